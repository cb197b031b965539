// Batch normalization over the channel (last) dimension, PyTorch's BatchNorm semantics.
//
// gamma, beta, running_mean, running_var: (C). On CUDA they are f32 whatever x's dtype (f32 or
// bf16); on the CPU they have x's dtype (f32 or f64, f64 for the gradient checks).
//
// training: the batch mean and biased variance normalize, y = (x - mean) / sqrt(var + eps) * gamma
//   + beta, and the running statistics are updated in place: running = (1 - momentum) * running +
//   momentum * batch, with the unbiased variance for running_var. Needs more than one value per
//   channel. Backward: the full batch-norm gradient (through the batch statistics).
// eval: the running statistics normalize and are left alone. Backward: gx = gy * gamma * invstd,
//   dgamma = sum gy * xhat, dbeta = sum gy, with invstd and xhat from the running statistics.
#pragma once
#include "engine/tensor.h"

namespace rsd {

// x: (N, H, W, C) NHWC -> y of the same shape; statistics over N*H*W per channel.
Tensor batch_norm2d(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                    Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);
// x: (N, C) -> y: (N, C); statistics over N per channel.
Tensor batch_norm1d(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                    Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);

}  // namespace rsd
