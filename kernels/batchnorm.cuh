// Batch normalization over x viewed as (M, C) row-major rows: M = N*H*W for NHWC activations,
// M = N for (N, C) features. Per-channel vectors (gamma, beta, running stats, save_mean,
// save_invstd, dgamma, dbeta) are float (C). Host header: plain C++, no engine types.
#pragma once
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cstdint>

namespace rsd::kernels {

// Bytes of device workspace batchnorm_forward_train and batchnorm_backward need.
size_t batchnorm_workspace_bytes(int64_t M, int64_t C);

// Training forward. Batch mean and biased variance (Welford / Chan merges, never E[x^2]-E[x]^2)
// normalize x: y = (x - mean) * invstd * gamma + beta, invstd = 1 / sqrt(var + eps).
// save_mean, save_invstd receive the batch statistics for the backward pass. Running stats follow
// PyTorch: running = (1 - momentum) * running + momentum * batch, with the unbiased variance
// var * M / (M - 1) (the biased one when M == 1); null running pointers skip the update.
// Null gamma / beta mean 1 / 0. workspace: batchnorm_workspace_bytes(M, C). T: float, __nv_bfloat16.
template <typename T>
void batchnorm_forward_train(const T* x, const float* gamma, const float* beta, T* y, float* save_mean,
                             float* save_invstd, float* running_mean, float* running_var, int64_t M, int64_t C,
                             float momentum, float eps, void* workspace, cudaStream_t s);

// Inference forward with the running statistics: y = (x - rm) / sqrt(rv + eps) * gamma + beta.
// Null gamma / beta mean 1 / 0. T: float, __nv_bfloat16.
template <typename T>
void batchnorm_forward_eval(const T* x, const float* gamma, const float* beta, const float* running_mean,
                            const float* running_var, T* y, int64_t M, int64_t C, float eps, cudaStream_t s);

// Training backward: dbeta = sum_rows gy, dgamma = sum_rows gy * xhat with
// xhat = (x - save_mean) * save_invstd, and gx = gamma * invstd / M * (M * gy - dbeta - xhat * dgamma).
// Null gamma means 1. workspace: batchnorm_workspace_bytes(M, C). T: float, __nv_bfloat16.
template <typename T>
void batchnorm_backward(const T* x, const T* gy, const float* gamma, const float* save_mean,
                        const float* save_invstd, T* gx, float* dgamma, float* dbeta, int64_t M, int64_t C,
                        void* workspace, cudaStream_t s);

}  // namespace rsd::kernels
