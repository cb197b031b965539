// CUDA side of engine/optim/ema.h and engine/optim/grad_norm.h: multi-tensor launches over tables
// built once (engine/cuda/multi_tensor.h).
#pragma once
#include "engine/cuda/multi_tensor.h"
#include "engine/tensor.h"

namespace rsd::cuda {

// Entries: param = the target tensor, grad = the online tensor it follows.
void ema_update(const MultiTensorTable& t, float tau, const float* guard = nullptr);

// Workspace (one double per chunk) and the one-double result, allocated once from the pool.
Tensor squared_norm_workspace(const MultiTensorTable& t);
// Entries: param = the tensor whose squares are summed. Writes the sum into out (f64 {1}).
void squared_norm(const MultiTensorTable& t, const Tensor& workspace, Tensor& out);
// Entries: param = the tensor scaled in place.
void scale(const MultiTensorTable& t, float factor);

// The training step's guard (kernels/optim.cuh) from loss (f32 {1}) and squared_norm (f64 {1}):
// guard f32 {2}, norm f64 {1}; one thread on the device, nothing read back.
void step_guard(const Tensor& loss, const Tensor& squared_norm, double clip, Tensor& guard, Tensor& norm);

}  // namespace rsd::cuda
