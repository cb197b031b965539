// Batch normalization: slab-parallel statistics (partials in the workspace, merged per channel
// in double by lanes over the slabs and a tree), then a per-column elementwise pass. All reductions run in a fixed order.
#include "batchnorm.cuh"

#include "batchnorm_common.cuh"
#include "common.cuh"

namespace rsd::kernels {
namespace {

// Count, mean and sum of squared deviations of a set of values.
struct Moments {
  float n;
  float mean;
  float m2;
};

// Chan et al. parallel merge of b = (nb, mean_b, m2_b) into a.
__device__ __forceinline__ void merge_moments(Moments& a, float nb, float mean_b, float m2_b) {
  if (nb == 0.0f) return;
  const float n = a.n + nb;
  const float frac = nb / n;
  const float delta = mean_b - a.mean;
  a.mean += delta * frac;
  a.m2 += m2_b + delta * delta * a.n * frac;
  a.n = n;
}

// Moments of column c over rows first, first + kRowLanes, ... < end. Each group of
// kColumnUnroll rows gets an exact two-pass mean and m2 in registers, then one Chan merge (one
// division per group rather than per element).
template <typename T>
__device__ Moments column_moments(const T* x, int64_t C, int64_t c, int64_t first, int64_t end) {
  Moments acc{0.0f, 0.0f, 0.0f};
  for (int64_t r = first; r < end; r += kColumnUnroll * kRowLanes) {
    float v[kColumnUnroll];
    load_column(x, C, c, r, kRowLanes, end, v);
    const int64_t left = (end - r + kRowLanes - 1) / kRowLanes;  // rows of this group before end
    const int cnt = static_cast<int>(min64(left, kColumnUnroll));
    float sum = 0.0f;
#pragma unroll
    for (int k = 0; k < kColumnUnroll; ++k) sum += v[k];  // rows past end loaded as 0
    const float mean = sum / static_cast<float>(cnt);
    float m2 = 0.0f;
#pragma unroll
    for (int k = 0; k < kColumnUnroll; ++k) {
      const float d = v[k] - mean;
      if (k < cnt) m2 += d * d;
    }
    merge_moments(acc, static_cast<float>(cnt), mean, m2);
  }
  return acc;
}

// x: (M, C); partials: (slabs, C) of (mean, m2) over the slab's rows (their count follows from
// the slab index). Lanes threadIdx.y are merged in lane order.
template <typename T>
__global__ void stats_partials_kernel(const T* x, int64_t M, int64_t C, int64_t slab_rows, float2* partials) {
  __shared__ float lane_n[kRowLanes][kColTile];
  __shared__ float lane_mean[kRowLanes][kColTile];
  __shared__ float lane_m2[kRowLanes][kColTile];
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kColTile + threadIdx.x;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * slab_rows;
  const int64_t r1 = min64(M, r0 + slab_rows);
  Moments m{0.0f, 0.0f, 0.0f};
  if (c < C) m = column_moments(x, C, c, r0 + threadIdx.y, r1);
  lane_n[threadIdx.y][threadIdx.x] = m.n;
  lane_mean[threadIdx.y][threadIdx.x] = m.mean;
  lane_m2[threadIdx.y][threadIdx.x] = m.m2;
  __syncthreads();
  if (threadIdx.y != 0 || c >= C) return;
  for (int k = 1; k < kRowLanes; ++k)
    merge_moments(m, lane_n[k][threadIdx.x], lane_mean[k][threadIdx.x], lane_m2[k][threadIdx.x]);
  partials[blockIdx.y * C + c] = make_float2(m.mean, m.m2);
}

// (count, mean, m2) in double: the slabs' counts pass 2^24 rows for large M.
struct Moments64 {
  double n, mean, m2;
};

// Chan et al.'s merge of two sets; either may be empty (n = 0).
struct MergeMoments64 {
  __device__ Moments64 operator()(const Moments64& a, const Moments64& b) const {
    if (b.n == 0.0) return a;
    if (a.n == 0.0) return b;
    const double n = a.n + b.n;
    const double delta = b.mean - a.mean;
    return {n, a.mean + delta * (b.n / n), a.m2 + b.m2 + delta * delta * (a.n * b.n / n)};
  }
};

// The slabs of each channel merged (fold_column_slabs: lanes over the slabs, then a tree of
// lanes), then the channel's statistics. Grid: slab_fold_grid(C), block: slab_fold_block(slabs).
__global__ void stats_finalize_kernel(const float2* partials, int64_t M, int64_t C, int64_t slab_rows,
                                      int64_t slabs, float momentum, float eps, float* save_mean,
                                      float* save_invstd, float* running_mean, float* running_var) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kColTile + threadIdx.x;
  const auto slab = [&](int64_t k) {
    const float2 p = partials[k * C + c];
    return Moments64{static_cast<double>(min64(slab_rows, M - k * slab_rows)), p.x, p.y};
  };
  const Moments64 m = fold_column_slabs(c < C ? slabs : 0, Moments64{0.0, 0.0, 0.0}, slab, MergeMoments64{});
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
  stats_partials_kernel<T><<<slab_grid(plan), block, 0, s>>>(x, M, C, plan.slab_rows, partials);
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
