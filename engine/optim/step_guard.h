// The training step's NaN/Inf guard and gradient clipping, decided on the gradients' device:
// from the step's mean loss and the gradients' squared norm it writes two floats, {skip, gradient
// scale} (kernels/optim.cuh), which the optimizers and the EMA read there (Optimizer::set_guard,
// EmaUpdate::set_guard). So the host reads nothing between the backward and the update: on a GPU
// the whole step is queued without a round trip, and the numbers (loss, norm, skipped, clipped)
// are read once, after the update is queued.
//   skip  = !(isfinite(loss) && isfinite(norm))
//   scale = clip > 0 && norm > clip ? clip / (norm + 1e-6) : 1
#pragma once
#include "engine/tensor.h"

namespace rsd {

class StepGuard {
 public:
  explicit StepGuard(Device device);
  // loss: the step's mean loss, one element (f32 on a GPU); squared_norm: f64 {1} on the device
  // (GradientNorm::squared_on_device). clip: 0 for no clipping.
  void compute(const Tensor& loss, const Tensor& squared_norm, double clip);
  // f32 {2}: {skip, gradient scale}, on the device.
  const Tensor& guard() const { return guard_; }
  // f64 {1}: the gradient norm (before clipping), on the device.
  const Tensor& norm() const { return norm_; }

 private:
  Tensor guard_, norm_;
};

}  // namespace rsd
