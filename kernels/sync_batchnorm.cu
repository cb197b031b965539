// Synchronized batch normalization: per-rank column reductions whose results the caller
// all-reduces, and the elementwise passes that use the global statistics. Reductions follow the
// slab plan of common.cuh: float partials per (slab, column), then the slabs added in double in a
// fixed order (fold_column_slabs), so the bits depend only on (M, C) and the data.
#include "sync_batchnorm.cuh"

#include "batchnorm_common.cuh"
#include "common.cuh"

namespace rsd::kernels {
namespace {

dim3 slab_grid(const SlabPlan& plan) {
  return dim3(static_cast<unsigned>(plan.col_tiles), static_cast<unsigned>(plan.slabs));
}

// partials: (slabs, C) of the sum over the slab's rows of x (kSquares false) or of (x - mean)^2
// with mean = stats[c] / stats[C] (kSquares true). Lanes threadIdx.y are added in lane order.
template <typename T, bool kSquares>
__global__ void column_partials_kernel(const T* x, const double* stats, int64_t M, int64_t C, int64_t slab_rows,
                                       float* partials) {
  __shared__ float lane_sum[kRowLanes][kColTile];
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kColTile + threadIdx.x;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * slab_rows;
  const int64_t r1 = min64(M, r0 + slab_rows);
  float acc = 0.0f;
  if (c < C) {
    float center = 0.0f;
    if constexpr (kSquares) center = static_cast<float>(stats[c] / stats[C]);
    for (int64_t r = r0 + threadIdx.y; r < r1; r += kColumnUnroll * kRowLanes) {
      float v[kColumnUnroll];
      load_column(x, C, c, r, kRowLanes, r1, v);
#pragma unroll
      for (int k = 0; k < kColumnUnroll; ++k) {
        if constexpr (kSquares) {
          // Rows past r1 load as 0, whose squared deviation is not 0: mask them.
          const float d = v[k] - center;
          if (r + k * kRowLanes < r1) acc += d * d;
        } else {
          acc += v[k];  // rows past r1 load as 0
        }
      }
    }
  }
  lane_sum[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y != 0 || c >= C) return;
  for (int k = 1; k < kRowLanes; ++k) acc += lane_sum[k][threadIdx.x];
  partials[blockIdx.y * C + c] = acc;
}

struct AddDouble {
  __device__ double operator()(double a, double b) const { return a + b; }
};

// out[c] = the slabs' partials added in double (fold_column_slabs: lanes over the slabs, then a
// tree of lanes); with count_slot, *count_slot = M. slabs may be 0 (no rows): the sums are 0.
// Grid: slab_fold_grid(C), block: slab_fold_block(slabs).
__global__ void column_finalize_kernel(const float* partials, int64_t C, int64_t slabs, int64_t M, double* out,
                                       double* count_slot) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kColTile + threadIdx.x;
  const auto slab = [&](int64_t k) { return static_cast<double>(partials[k * C + c]); };
  const double s = fold_column_slabs(c < C ? slabs : 0, 0.0, slab, AddDouble{});
  if (threadIdx.y != 0) return;
  if (c < C) out[c] = s;
  if (count_slot != nullptr && c == 0) *count_slot = static_cast<double>(M);
}

__global__ void stats_finalize_kernel(const double* stats, const double* sqdev, int64_t C, float momentum, float eps,
                                      float* save_mean, float* save_invstd, float* running_mean, float* running_var) {
  const double n = stats[C];
  for (int64_t c = global_thread(); c < C; c += grid_threads()) {
    const double mean = stats[c] / n;
    const double var = sqdev[c] / n;
    const double unbiased = n > 1.0 ? sqdev[c] / (n - 1.0) : var;
    batchnorm_detail::store_channel_stats(c, mean, var, unbiased, momentum, eps, save_mean, save_invstd, running_mean,
                                          running_var);
  }
}
// gx = gamma * invstd * (gy - sum_gy / n - xhat * sum_gy_xhat / n) with the global sums and count
// n. Grid: column_apply_grid(M, C).
template <typename T>
__global__ void grad_input_kernel(const T* x, const T* gy, const float* gamma, const float* mean,
                                  const float* invstd, const double* sums, const double* stats, T* gx, int64_t M,
                                  int64_t C) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kColTile + threadIdx.x;
  if (c >= C) return;
  const double n = stats[C];
  const float istd = invstd[c];
  const float k = (gamma != nullptr ? gamma[c] : 1.0f) * istd;
  batchnorm_detail::grad_input_column(x, gy, gx, M, C, c, k, mean[c], istd,
                                      static_cast<float>(sums[c] / n), static_cast<float>(sums[C + c] / n));
}

// The column sums of x (or of its squared deviations) over the local rows, into out (C) in
// double; M = 0 launches only the finalize, which writes zeros.
template <typename T, bool kSquares>
void column_sums(const T* x, const double* stats, int64_t M, int64_t C, double* out, double* count_slot,
                 void* workspace, cudaStream_t s) {
  const SlabPlan plan = M > 0 ? plan_slabs(M, C) : SlabPlan{0, 1, 0};
  float* partials = static_cast<float*>(workspace);
  if (plan.slabs > 0)
    column_partials_kernel<T, kSquares><<<slab_grid(plan), dim3(kColTile, kRowLanes), 0, s>>>(
        x, stats, M, C, plan.slab_rows, partials);
  column_finalize_kernel<<<slab_fold_grid(C), slab_fold_block(plan.slabs), 0, s>>>(partials, C, plan.slabs, M, out,
                                                                                   count_slot);
}

}  // namespace

size_t sync_batchnorm_workspace_bytes(int64_t M, int64_t C) {
  if (M <= 0 || C <= 0) return 0;
  return static_cast<size_t>(plan_slabs(M, C).slabs * C) * sizeof(float2);
}

template <typename T>
void sync_batchnorm_local_sums(const T* x, int64_t M, int64_t C, double* stats, void* workspace, cudaStream_t s) {
  if (C <= 0) return;
  column_sums<T, false>(x, nullptr, M, C, stats, stats + C, workspace, s);
}

template <typename T>
void sync_batchnorm_local_sqdev(const T* x, const double* stats, int64_t M, int64_t C, double* sqdev,
                                void* workspace, cudaStream_t s) {
  if (C <= 0) return;
  column_sums<T, true>(x, stats, M, C, sqdev, nullptr, workspace, s);
}

void sync_batchnorm_finalize(const double* stats, const double* sqdev, int64_t C, float momentum, float eps,
                             float* save_mean, float* save_invstd, float* running_mean, float* running_var,
                             cudaStream_t s) {
  if (C <= 0) return;
  stats_finalize_kernel<<<grid_for(C), kBlock, 0, s>>>(stats, sqdev, C, momentum, eps, save_mean, save_invstd,
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
                                   const float* invstd, const double* sums, const double* stats, T* gx, int64_t M,
                                   int64_t C, cudaStream_t s) {
  if (M <= 0 || C <= 0) return;
  grad_input_kernel<T><<<column_apply_grid(M, C), dim3(kColTile, kRowLanes), 0, s>>>(x, gy, gamma, mean, invstd,
                                                                                     sums, stats, gx, M, C);
}

#define RSD_INSTANTIATE_SYNC_BATCHNORM(T)                                                                         \
  template void sync_batchnorm_local_sums<T>(const T*, int64_t, int64_t, double*, void*, cudaStream_t);          \
  template void sync_batchnorm_local_sqdev<T>(const T*, const double*, int64_t, int64_t, double*, void*,         \
                                              cudaStream_t);                                                     \
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
