// CUDA side of the optimizers (engine/optim/): each step is a fused multi-tensor launch over a
// table built once (engine/cuda/multi_tensor.h), with scalar arguments only.
#pragma once
#include <cstdint>

#include "engine/cuda/multi_tensor.h"

namespace rsd::cuda {

// guard: the training step's guard (kernels/optim.cuh) on the device, or nullptr.
void sgd_step(const MultiTensorTable& t, float lr, float momentum, float weight_decay, bool nesterov,
              const float* guard = nullptr);

// The per-chunk norm partials LARS needs, allocated once from the pool on the table's GPU.
Tensor lars_workspace(const MultiTensorTable& t);
// Two launches: the norms of every slot first, then the update that uses them.
void lars_step(const MultiTensorTable& t, const Tensor& workspace, float lr, float momentum, float weight_decay,
               float eta, const float* guard = nullptr);

// step: 1-based, for the bias corrections.
void adamw_step(const MultiTensorTable& t, float lr, float beta1, float beta2, float eps, float weight_decay,
                int64_t step, const float* guard = nullptr);

}  // namespace rsd::cuda
