// Synchronized batch normalization: the per-rank pieces of a batch norm whose statistics span
// every rank. x, y, gy, gx are (M, C) row-major rows (M = N*H*W for NHWC activations, N for
// (N, C) features; M may be 0 on a rank that holds no rows). The caller moves the double vectors
// between the ranks between the steps:
//
//   forward   sync_batchnorm_local_moments  -> moments (2C + 1) [mean, m2, M] of the local rows
//                                              all-gather: (W, 2C + 1) rank-major
//             sync_batchnorm_merge_moments  -> moments (2C + 1) of all rows, merged in rank order
//             sync_batchnorm_finalize       -> save_mean, save_invstd (C), running stats
//             sync_batchnorm_apply          -> y
//   backward  sync_batchnorm_backward_reduce -> sums (2C) [sum gy, sum gy * xhat], all-reduce;
//                                               dgamma, dbeta (the local sums, f32)
//             sync_batchnorm_backward_apply  -> gx
//
// moments: per channel the mean and m2, the sum of squared deviations from that mean, then the
// row count. Per-channel float vectors (gamma, beta, running stats, save_*, dgamma, dbeta) are
// (C). Reductions accumulate in float within a slab of rows and in double across slabs and ranks
// (fixed order, no atomics). Host header: plain C++, no engine types. T: float, __nv_bfloat16.
#pragma once
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cstdint>

namespace rsd::kernels {

// Bytes of device workspace the two reductions need (0 when M or C is 0).
size_t sync_batchnorm_workspace_bytes(int64_t M, int64_t C);

// moments = [mean (C), m2 (C), M] of the local rows: Welford within slabs of rows (as batch norm's
// training forward), the slabs merged in double (Chan et al.). M = 0 writes zeros.
template <typename T>
void sync_batchnorm_local_moments(const T* x, int64_t M, int64_t C, double* moments, void* workspace, cudaStream_t s);

// moments (2C + 1) of the union of `ranks` sets of rows, from their moments gathered rank-major
// into (ranks, 2C + 1), merged (Chan et al., in double) in rank order; sets of no rows add nothing.
void sync_batchnorm_merge_moments(const double* gathered, int64_t ranks, int64_t C, double* moments,
                                  cudaStream_t s);

// From the merged moments, in double: mean, biased var = m2 / n, save_invstd = 1 / sqrt(var + eps),
// n = moments[2C]. Running stats (null skips them): running = (1 - momentum) * running +
// momentum * batch, with the unbiased m2 / (n - 1).
void sync_batchnorm_finalize(const double* moments, int64_t C, float momentum, float eps, float* save_mean,
                             float* save_invstd, float* running_mean, float* running_var, cudaStream_t s);

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

// gx = gamma * invstd * (gy - sums[c] / n - xhat * sums[C + c] / n): sums all-reduced, n =
// moments[2C] the global count. Null gamma means 1.
template <typename T>
void sync_batchnorm_backward_apply(const T* x, const T* gy, const float* gamma, const float* mean,
                                   const float* invstd, const double* sums, const double* moments, T* gx, int64_t M,
                                   int64_t C, cudaStream_t s);

}  // namespace rsd::kernels
