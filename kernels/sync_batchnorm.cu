// Synchronized batch normalization: per-rank moments and gradient sums whose results the caller
// combines across ranks, and the elementwise passes that use the global statistics. Reductions
// follow the slab plan of common.cuh: float partials per (slab, column), then the slabs merged
// in double in a fixed order (fold_column_slabs), so the bits depend only on (M, C) and the data;
// the ranks' moments are merged in rank order.
#include "sync_batchnorm.cuh"

#include "batchnorm_common.cuh"
#include "common.cuh"

namespace rsd::kernels {
namespace {

using batchnorm_detail::MergeMoments64;
using batchnorm_detail::Moments64;

dim3 slab_grid(const SlabPlan& plan) {
  return dim3(static_cast<unsigned>(plan.col_tiles), static_cast<unsigned>(plan.slabs));
}

// moments = [mean (C), m2 (C), M] from the slabs' Welford partials (stats_partials_kernel).
// Grid: slab_fold_grid(C), block: slab_fold_block(slabs); slabs = 0 (no rows) writes zeros.
__global__ void local_moments_kernel(const float2* partials, int64_t M, int64_t C, int64_t slab_rows, int64_t slabs,
                                     double* moments) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kColTile + threadIdx.x;
  const Moments64 m = batchnorm_detail::fold_slab_moments(partials, M, C, slab_rows, slabs);
  if (threadIdx.y != 0) return;
  if (c < C) {
    moments[c] = m.mean;
    moments[C + c] = m.m2;
  }
  if (c == 0) moments[2 * C] = static_cast<double>(M);
}

// The ranks' moments (gathered: (ranks, 2C + 1), rank-major) merged in rank order, one thread per
// channel: the order is the ranks', whatever the device, so every rank gets the same bits. A
// world of W ranks costs W merges per channel, against the 2048 slabs a finalize may fold.
__global__ void merge_moments_kernel(const double* gathered, int64_t ranks, int64_t C, double* moments) {
  const int64_t stride = 2 * C + 1;
  for (int64_t c = global_thread(); c < C; c += grid_threads()) {
    Moments64 m{0.0, 0.0, 0.0};
    for (int64_t r = 0; r < ranks; ++r) {
      const double* g = gathered + r * stride;
      m = MergeMoments64{}(m, Moments64{g[2 * C], g[c], g[C + c]});
    }
    moments[c] = m.mean;
    moments[C + c] = m.m2;
    if (c == 0) moments[2 * C] = m.n;
  }
}

__global__ void stats_finalize_kernel(const double* moments, int64_t C, float momentum, float eps, float* save_mean,
                                      float* save_invstd, float* running_mean, float* running_var) {
  const double n = moments[2 * C];
  for (int64_t c = global_thread(); c < C; c += grid_threads()) {
    const double m2 = moments[C + c];
    const double var = m2 / n;
    const double unbiased = n > 1.0 ? m2 / (n - 1.0) : var;
    batchnorm_detail::store_channel_stats(c, moments[c], var, unbiased, momentum, eps, save_mean, save_invstd,
                                          running_mean, running_var);
  }
}

// gx = gamma * invstd * (gy - sum_gy / n - xhat * sum_gy_xhat / n) with the global sums and count
// n = moments[2C]. Grid: column_apply_grid(M, C).
template <typename T>
__global__ void grad_input_kernel(const T* x, const T* gy, const float* gamma, const float* mean,
                                  const float* invstd, const double* sums, const double* moments, T* gx, int64_t M,
                                  int64_t C) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kColTile + threadIdx.x;
  if (c >= C) return;
  const double n = moments[2 * C];
  const float istd = invstd[c];
  const float k = (gamma != nullptr ? gamma[c] : 1.0f) * istd;
  batchnorm_detail::grad_input_column(x, gy, gx, M, C, c, k, mean[c], istd,
                                      static_cast<float>(sums[c] / n), static_cast<float>(sums[C + c] / n));
}

}  // namespace

size_t sync_batchnorm_workspace_bytes(int64_t M, int64_t C) {
  if (M <= 0 || C <= 0) return 0;
  return static_cast<size_t>(plan_slabs(M, C).slabs * C) * sizeof(float2);
}

template <typename T>
void sync_batchnorm_local_moments(const T* x, int64_t M, int64_t C, double* moments, void* workspace,
                                  cudaStream_t s) {
  if (C <= 0) return;
  const SlabPlan plan = M > 0 ? plan_slabs(M, C) : SlabPlan{0, 1, 0};
  float2* partials = static_cast<float2*>(workspace);
  if (plan.slabs > 0)
    batchnorm_detail::stats_partials_kernel<T><<<slab_grid(plan), dim3(kColTile, kRowLanes), 0, s>>>(
        x, M, C, plan.slab_rows, partials);
  local_moments_kernel<<<slab_fold_grid(C), slab_fold_block(plan.slabs), 0, s>>>(partials, M, C, plan.slab_rows,
                                                                                 plan.slabs, moments);
}

void sync_batchnorm_merge_moments(const double* gathered, int64_t ranks, int64_t C, double* moments,
                                  cudaStream_t s) {
  if (C <= 0) return;
  merge_moments_kernel<<<grid_for(C), kBlock, 0, s>>>(gathered, ranks, C, moments);
}

void sync_batchnorm_finalize(const double* moments, int64_t C, float momentum, float eps, float* save_mean,
                             float* save_invstd, float* running_mean, float* running_var, cudaStream_t s) {
  if (C <= 0) return;
  stats_finalize_kernel<<<grid_for(C), kBlock, 0, s>>>(moments, C, momentum, eps, save_mean, save_invstd,
                                                       running_mean, running_var);
}

template <typename T>
void sync_batchnorm_apply(const T* x, const float* gamma, const float* beta, const float* mean, const float* invstd,
                          T* y, int64_t M, int64_t C, cudaStream_t s) {
  if (M <= 0 || C <= 0) return;
  batchnorm_detail::normalize_kernel<T, false><<<column_apply_grid(M, C), dim3(kColTile, kRowLanes), 0, s>>>(
      x, gamma, beta, mean, invstd, 0.0f, y, M, C);
}

template <typename T>
void sync_batchnorm_backward_reduce(const T* x, const T* gy, const float* mean, const float* invstd, int64_t M,
                                    int64_t C, double* sums, float* dgamma, float* dbeta, void* workspace,
                                    cudaStream_t s) {
  if (C <= 0) return;
  const SlabPlan plan = M > 0 ? plan_slabs(M, C) : SlabPlan{0, 1, 0};
  float2* partials = static_cast<float2*>(workspace);
  if (plan.slabs > 0)
    batchnorm_detail::grad_partials_kernel<T><<<slab_grid(plan), dim3(kColTile, kRowLanes), 0, s>>>(
        x, gy, mean, M, C, plan.slab_rows, partials);
  batchnorm_detail::grad_finalize_kernel<<<slab_fold_grid(C), slab_fold_block(plan.slabs), 0, s>>>(
      partials, invstd, C, plan.slabs, sums, dgamma, dbeta);
}

template <typename T>
void sync_batchnorm_backward_apply(const T* x, const T* gy, const float* gamma, const float* mean,
                                   const float* invstd, const double* sums, const double* moments, T* gx, int64_t M,
                                   int64_t C, cudaStream_t s) {
  if (M <= 0 || C <= 0) return;
  grad_input_kernel<T><<<column_apply_grid(M, C), dim3(kColTile, kRowLanes), 0, s>>>(x, gy, gamma, mean, invstd,
                                                                                     sums, moments, gx, M, C);
}

#define RSD_INSTANTIATE_SYNC_BATCHNORM(T)                                                                         \
  template void sync_batchnorm_local_moments<T>(const T*, int64_t, int64_t, double*, void*, cudaStream_t);      \
  template void sync_batchnorm_apply<T>(const T*, const float*, const float*, const float*, const float*, T*,    \
                                        int64_t, int64_t, cudaStream_t);                                         \
  template void sync_batchnorm_backward_reduce<T>(const T*, const T*, const float*, const float*, int64_t,       \
                                                  int64_t, double*, float*, float*, void*, cudaStream_t);        \
  template void sync_batchnorm_backward_apply<T>(const T*, const T*, const float*, const float*, const float*,   \
                                                 const double*, const double*, T*, int64_t, int64_t,             \
                                                 cudaStream_t);

RSD_INSTANTIATE_SYNC_BATCHNORM(float)
RSD_INSTANTIATE_SYNC_BATCHNORM(__nv_bfloat16)

#undef RSD_INSTANTIATE_SYNC_BATCHNORM

}  // namespace rsd::kernels
