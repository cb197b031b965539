// Synchronized batch normalization: the per-rank pieces of a batch norm whose statistics span
// every rank. x, y, gy, gx are (M, C) row-major rows (M = N*H*W for NHWC activations, N for
// (N, C) features; M may be 0 on a rank that holds no rows). The caller all-reduces (sum) the
// double vectors between the steps:
//
//   forward   sync_batchnorm_local_sums   -> stats (C + 1)  [sum_rows x, M]     all-reduce
//             sync_batchnorm_local_sqdev  -> sqdev (C)      sum_rows (x - mean)^2  all-reduce
//             sync_batchnorm_finalize     -> save_mean, save_invstd (C), running stats
//             sync_batchnorm_apply        -> y
//   backward  sync_batchnorm_backward_reduce -> sums (2C) [sum gy, sum gy * xhat], all-reduce;
//                                               dgamma, dbeta (the local sums, f32)
//             sync_batchnorm_backward_apply  -> gx
//
// Per-channel float vectors (gamma, beta, running stats, save_*, dgamma, dbeta) are (C). Sums
// accumulate in float within a slab of rows and in double across slabs (fixed order, no atomics).
// Host header: plain C++, no engine types. T: float, __nv_bfloat16.
#pragma once
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cstdint>

namespace rsd::kernels {

// Bytes of device workspace the three reductions need (0 when M or C is 0).
size_t sync_batchnorm_workspace_bytes(int64_t M, int64_t C);

// stats[c] = sum_rows x[:, c] for c < C, stats[C] = M. Writes zeros (and M = 0) when M is 0.
template <typename T>
void sync_batchnorm_local_sums(const T* x, int64_t M, int64_t C, double* stats, void* workspace, cudaStream_t s);

// sqdev[c] = sum_rows (x[:, c] - mean_c)^2 around the global mean mean_c = stats[c] / stats[C]
// (stats already all-reduced: its count is the global one).
template <typename T>
void sync_batchnorm_local_sqdev(const T* x, const double* stats, int64_t M, int64_t C, double* sqdev,
                                void* workspace, cudaStream_t s);

// From the all-reduced stats and sqdev, in double: mean = stats[c] / n, biased var = sqdev[c] / n,
// save_invstd = 1 / sqrt(var + eps), n = stats[C]. Running stats (null skips them):
// running = (1 - momentum) * running + momentum * batch, with the unbiased sqdev / (n - 1).
void sync_batchnorm_finalize(const double* stats, const double* sqdev, int64_t C, float momentum, float eps,
                             float* save_mean, float* save_invstd, float* running_mean, float* running_var,
                             cudaStream_t s);

// y = (x - mean) * invstd * gamma + beta. Null gamma / beta mean 1 / 0.
template <typename T>
void sync_batchnorm_apply(const T* x, const float* gamma, const float* beta, const float* mean, const float* invstd,
                          T* y, int64_t M, int64_t C, cudaStream_t s);

// With xhat = (x - mean) * invstd over the local rows: sums[c] = sum gy, sums[C + c] = sum gy * xhat
// (double, for the all-reduce), and the same local sums in float as dbeta and dgamma.
template <typename T>
void sync_batchnorm_backward_reduce(const T* x, const T* gy, const float* mean, const float* invstd, int64_t M,
                                    int64_t C, double* sums, float* dgamma, float* dbeta, void* workspace,
                                    cudaStream_t s);

// gx = gamma * invstd * (gy - sums[c] / n - xhat * sums[C + c] / n): sums all-reduced, n = stats[C]
// the global count. Null gamma means 1.
template <typename T>
void sync_batchnorm_backward_apply(const T* x, const T* gy, const float* gamma, const float* mean,
                                   const float* invstd, const double* sums, const double* stats, T* gx, int64_t M,
                                   int64_t C, cudaStream_t s);

}  // namespace rsd::kernels
