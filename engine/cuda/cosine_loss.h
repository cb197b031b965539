// CUDA side of engine/ops/cosine_loss.h.
#pragma once
#include "engine/ops/loss_kernel.h"
#include "engine/tensor.h"

namespace rsd::cuda {

// p, z: (B, D), the same dtype (f32 or bf16). Writes what is asked for (a null pointer: not wanted):
//   loss: f32 {1}, mean_i (2 - 2 cos_i);
//   dp: (B, D), p's dtype, g[0] * dloss/dp where g is an f32 {1} device tensor, or dloss/dp when
//   g is null (the upstream gradient stays on the device: no host synchronization).
// `kernel` picks the fused one-pass kernel or the plain composition (kernels/cosine_loss.cuh).
void byol_cosine_loss(const Tensor& p, const Tensor& z, Tensor* loss, Tensor* dp, const Tensor* g, double eps,
                      LossKernel kernel);

}  // namespace rsd::cuda
