// ParameterRegistry: the trainable tensors of a model, by name, in registration order, and the
// buffers (BN running statistics) that checkpoints save but optimizers never touch.
//
//   ParameterRegistry reg;
//   Tensor& w = reg.add("conv1.weight", init, /*exclude_from_decay=*/false);  // (K, R, S, C) f32
//   reg.add("bn1.weight", ones, true);        // BN weights and all biases: no decay, no LARS
//   reg.add_buffer("bn1.running_mean", zeros);
//
// Every parameter is f32 (master weights) and all live on one device. add() gives each one a
// zero-filled gradient buffer from the pool (never a step arena), allocated once: autograd
// accumulates into it in place and zero_grad() refills it, so its address never changes and
// optimizers may keep raw pointers to it (the CUDA multi-tensor tables do).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace rsd {

struct Parameter {
  std::string name;
  Tensor value;                     // f32, requires_grad, its grad() allocated by the registry
  bool exclude_from_decay = false;  // no weight decay and no LARS adaptation (BN params, biases)
};

class ParameterRegistry {
 public:
  ParameterRegistry() = default;
  // trainable = false: a frozen set (BYOL's target network, a model being evaluated): its
  // parameters do not require grad and get no gradient buffer.
  explicit ParameterRegistry(bool trainable) : trainable_(trainable) {}
  ParameterRegistry(const ParameterRegistry&) = delete;
  ParameterRegistry& operator=(const ParameterRegistry&) = delete;

  // Registers `value` (f32, on the registry's device) under a new name; returns the stored
  // tensor, whose address stays valid for the registry's life.
  Tensor& add(const std::string& name, Tensor value, bool exclude_from_decay);
  // Registers a buffer: saved in checkpoints, not optimized, no gradient. Any dtype.
  Tensor& add_buffer(const std::string& name, Tensor value);

  // Every gradient buffer filled with zeros (in place: addresses unchanged).
  void zero_grad();

  // The parameters in registration order.
  std::vector<Parameter*> parameters();
  std::vector<const Parameter*> parameters() const;
  // nullptr when no parameter has this name.
  Parameter* find(const std::string& name);
  const Parameter* find(const std::string& name) const;
  // Buffers by name (sorted by name).
  const std::map<std::string, Tensor>& buffers() const { return buffers_; }
  Tensor* find_buffer(const std::string& name);

  size_t size() const { return params_.size(); }
  // Total number of parameter elements.
  int64_t numel() const;
  // The device of the parameters (CPU while none is registered).
  Device device() const { return device_; }
  bool trainable() const { return trainable_; }

 private:
  std::vector<std::unique_ptr<Parameter>> params_;  // unique_ptr: addresses stable as it grows
  std::map<std::string, size_t> index_;             // name -> position in params_
  std::map<std::string, Tensor> buffers_;
  Device device_ = Device::cpu();
  bool trainable_ = true;
};

}  // namespace rsd
