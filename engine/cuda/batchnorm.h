// CUDA side of engine/ops/batchnorm.h. x, y, gy, gx: (M, C) rows (any shape whose last dimension
// is C); every per-channel tensor is f32 (C).
#pragma once
#include "engine/tensor.h"

namespace rsd::cuda {

// Batch statistics normalize; save_mean / save_invstd receive them; running stats updated in place.
void batchnorm_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& y,
                             Tensor& save_mean, Tensor& save_invstd, Tensor& running_mean, Tensor& running_var,
                             double momentum, double eps);
// mean / var (the running statistics) normalize.
void batchnorm_forward_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& mean,
                            const Tensor& var, Tensor& y, double eps);
// Gradients through the batch statistics saved by batchnorm_forward_train.
void batchnorm_backward_train(const Tensor& x, const Tensor& gy, const Tensor& gamma, const Tensor& save_mean,
                              const Tensor& save_invstd, Tensor& gx, Tensor& dgamma, Tensor& dbeta);
// Gradients of the eval-mode (affine) normalization by mean / var.
void batchnorm_backward_eval(const Tensor& x, const Tensor& gy, const Tensor& gamma, const Tensor& mean,
                             const Tensor& var, double eps, Tensor& gx, Tensor& dgamma, Tensor& dbeta);

}  // namespace rsd::cuda
