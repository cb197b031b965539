// The temperature of InfoNCE: fixed, or learnable. A learnable temperature is stored as its log
// ("log_temperature", no weight decay), as CLIP does, so gradient steps can never make it zero or
// negative; the loss sees exp(log_temperature).
#pragma once
#include "models/layers.h"

namespace rsd::models {

class Temperature {
 public:
  Temperature(const LayerContext& ctx, double initial, bool learnable);
  // {1} f32 on the method's device; on the tape when learnable.
  Tensor value() const;
  // The current temperature, read back (a 4-byte copy from a GPU).
  double current() const;
  bool learnable() const { return learnable_; }

 private:
  bool learnable_ = false;
  Tensor fixed_;  // {1}: the temperature when fixed
  Tensor log_;    // {1}: its log when learnable (a parameter)
};

}  // namespace rsd::models
