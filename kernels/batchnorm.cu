// Batch normalization: slab-parallel statistics (partials in the workspace, merged per channel
// in double by lanes over the slabs and a tree), then a per-column elementwise pass. All
// reductions run in a fixed order.
#include "batchnorm.cuh"

#include "batchnorm_common.cuh"
#include "common.cuh"

namespace rsd::kernels {
namespace {

// Each channel's slabs merged (batchnorm_detail::fold_slab_moments), then its statistics.
// Grid: slab_fold_grid(C), block: slab_fold_block(slabs).
__global__ void stats_finalize_kernel(const float2* partials, int64_t M, int64_t C, int64_t slab_rows,
                                      int64_t slabs, float momentum, float eps, float* save_mean,
                                      float* save_invstd, float* running_mean, float* running_var) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kColTile + threadIdx.x;
  const batchnorm_detail::Moments64 m = batchnorm_detail::fold_slab_moments(partials, M, C, slab_rows, slabs);
  if (threadIdx.y != 0 || c >= C) return;
  const double var = m.m2 / static_cast<double>(M);
  const double unbiased = M > 1 ? m.m2 / static_cast<double>(M - 1) : var;
  batchnorm_detail::store_channel_stats(c, m.mean, var, unbiased, momentum, eps, save_mean, save_invstd, running_mean,
                                        running_var);
}

// gx = gamma * invstd * (gy - dbeta / M - xhat * dgamma / M). Grid: column_apply_grid(M, C).
template <typename T>
__global__ void grad_input_kernel(const T* x, const T* gy, const float* gamma, const float* mean,
                                  const float* invstd, const float* dgamma, const float* dbeta, T* gx,
                                  int64_t M, int64_t C) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kColTile + threadIdx.x;
  if (c >= C) return;
  const float inv_m = 1.0f / static_cast<float>(M);
  const float istd = invstd[c];
  const float k = (gamma != nullptr ? gamma[c] : 1.0f) * istd;
  batchnorm_detail::grad_input_column(x, gy, gx, M, C, c, k, mean[c], istd,
                                      dbeta[c] * inv_m, dgamma[c] * inv_m);
}

dim3 slab_grid(const SlabPlan& plan) {
  return dim3(static_cast<unsigned>(plan.col_tiles), static_cast<unsigned>(plan.slabs));
}

}  // namespace

size_t batchnorm_workspace_bytes(int64_t M, int64_t C) {
  if (M <= 0 || C <= 0) return 0;
  return static_cast<size_t>(plan_slabs(M, C).slabs * C) * sizeof(float2);
}

template <typename T>
void batchnorm_forward_train(const T* x, const float* gamma, const float* beta, T* y, float* save_mean,
                             float* save_invstd, float* running_mean, float* running_var, int64_t M, int64_t C,
                             float momentum, float eps, void* workspace, cudaStream_t s) {
  if (M <= 0 || C <= 0) return;
  const SlabPlan plan = plan_slabs(M, C);
  float2* partials = static_cast<float2*>(workspace);
  const dim3 block(kColTile, kRowLanes);
  batchnorm_detail::stats_partials_kernel<T><<<slab_grid(plan), block, 0, s>>>(x, M, C, plan.slab_rows, partials);
  stats_finalize_kernel<<<slab_fold_grid(C), slab_fold_block(plan.slabs), 0, s>>>(
      partials, M, C, plan.slab_rows, plan.slabs, momentum, eps, save_mean, save_invstd, running_mean, running_var);
  batchnorm_detail::normalize_kernel<T, false><<<column_apply_grid(M, C), block, 0, s>>>(
      x, gamma, beta, save_mean, save_invstd, 0.0f, y, M, C);
}

template <typename T>
void batchnorm_forward_eval(const T* x, const float* gamma, const float* beta, const float* running_mean,
                            const float* running_var, T* y, int64_t M, int64_t C, float eps, cudaStream_t s) {
  if (M <= 0 || C <= 0) return;
  batchnorm_detail::normalize_kernel<T, true><<<column_apply_grid(M, C), dim3(kColTile, kRowLanes), 0, s>>>(
      x, gamma, beta, running_mean, running_var, eps, y, M, C);
}

template <typename T>
void batchnorm_backward(const T* x, const T* gy, const float* gamma, const float* save_mean,
                        const float* save_invstd, T* gx, float* dgamma, float* dbeta, int64_t M, int64_t C,
                        void* workspace, cudaStream_t s) {
  if (M <= 0 || C <= 0) return;
  const SlabPlan plan = plan_slabs(M, C);
  float2* partials = static_cast<float2*>(workspace);
  const dim3 block(kColTile, kRowLanes);
  batchnorm_detail::grad_partials_kernel<T><<<slab_grid(plan), block, 0, s>>>(x, gy, save_mean, M, C, plan.slab_rows,
                                                                               partials);
  batchnorm_detail::grad_finalize_kernel<<<slab_fold_grid(C), slab_fold_block(plan.slabs), 0, s>>>(
      partials, save_invstd, C, plan.slabs, nullptr, dgamma, dbeta);
  grad_input_kernel<T><<<column_apply_grid(M, C), block, 0, s>>>(x, gy, gamma, save_mean, save_invstd, dgamma,
                                                                 dbeta, gx, M, C);
}

#define RSD_INSTANTIATE_BATCHNORM(T)                                                                       \
  template void batchnorm_forward_train<T>(const T*, const float*, const float*, T*, float*, float*, float*, \
                                           float*, int64_t, int64_t, float, float, void*, cudaStream_t);   \
  template void batchnorm_forward_eval<T>(const T*, const float*, const float*, const float*, const float*,  \
                                          T*, int64_t, int64_t, float, cudaStream_t);                      \
  template void batchnorm_backward<T>(const T*, const T*, const float*, const float*, const float*, T*,      \
                                      float*, float*, int64_t, int64_t, void*, cudaStream_t);

RSD_INSTANTIATE_BATCHNORM(float)
RSD_INSTANTIATE_BATCHNORM(__nv_bfloat16)

#undef RSD_INSTANTIATE_BATCHNORM

}  // namespace rsd::kernels
