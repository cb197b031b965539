// Row-wise L2 normalization. A group of kGroup threads owns a row: a warp for short rows, the
// whole 256-thread block for long ones. Sums run in a fixed order (deterministic).
#include "l2norm.cuh"

#include "common.cuh"

namespace rsd::kernels {
namespace {

// Rows at least this long get a whole block each.
constexpr int64_t kBlockRowMin = 1024;

// Sum over the kGroup threads that own a row; every thread of the group gets the total.
template <int kGroup>
__device__ __forceinline__ float group_sum(float v) {
  if constexpr (kGroup == 32) {
    return warp_sum(v);
  } else {
    return block_sum<kGroup>(v);
  }
}

// x, y: (R, D); norms: (R). Block b, group g handles rows b * groups + g, stepping by the grid.
// The row loop bound is uniform within a group, as group_sum requires.
template <typename T, int kGroup>
__global__ void l2_forward_kernel(const T* x, T* y, float* norms, int64_t R, int64_t D, float eps) {
  constexpr int kGroups = kBlock / kGroup;
  const int lane = threadIdx.x % kGroup;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * kGroups + threadIdx.x / kGroup;
  for (int64_t r = first; r < R; r += static_cast<int64_t>(gridDim.x) * kGroups) {
    const T* xr = x + r * D;
    float ss = 0.0f;
    for (int64_t j = lane; j < D; j += kGroup) {
      const float v = to_float(xr[j]);
      ss += v * v;
    }
    const float norm = sqrtf(group_sum<kGroup>(ss));
    if (lane == 0) norms[r] = norm;
    const float inv = 1.0f / fmaxf(norm, eps);
    T* yr = y + r * D;
    for (int64_t j = lane; j < D; j += kGroup) yr[j] = from_float<T>(to_float(xr[j]) * inv);
  }
}

// gy, y, gx: (R, D); same row ownership as the forward kernel.
template <typename T, int kGroup>
__global__ void l2_backward_kernel(const T* gy, const T* y, const float* norms, T* gx, int64_t R, int64_t D,
                                   float eps) {
  constexpr int kGroups = kBlock / kGroup;
  const int lane = threadIdx.x % kGroup;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * kGroups + threadIdx.x / kGroup;
  for (int64_t r = first; r < R; r += static_cast<int64_t>(gridDim.x) * kGroups) {
    const T* gyr = gy + r * D;
    const T* yr = y + r * D;
    T* gxr = gx + r * D;
    const float norm = norms[r];
    if (norm > eps) {
      float dot = 0.0f;
      for (int64_t j = lane; j < D; j += kGroup) dot += to_float(gyr[j]) * to_float(yr[j]);
      dot = group_sum<kGroup>(dot);
      const float inv = 1.0f / norm;
      for (int64_t j = lane; j < D; j += kGroup)
        gxr[j] = from_float<T>((to_float(gyr[j]) - to_float(yr[j]) * dot) * inv);
    } else {
      const float inv = 1.0f / eps;
      for (int64_t j = lane; j < D; j += kGroup) gxr[j] = from_float<T>(to_float(gyr[j]) * inv);
    }
  }
}

int row_grid(int64_t R, int groups_per_block) {
  return static_cast<int>(std::min<int64_t>(ceil_div(R, groups_per_block), kMaxBlocks));
}

}  // namespace

template <typename T>
void l2_normalize_forward(const T* x, T* y, float* norms, int64_t R, int64_t D, float eps, cudaStream_t s) {
  if (R <= 0) return;
  if (D >= kBlockRowMin) {
    l2_forward_kernel<T, kBlock><<<row_grid(R, 1), kBlock, 0, s>>>(x, y, norms, R, D, eps);
  } else {
    l2_forward_kernel<T, 32><<<row_grid(R, kBlock / 32), kBlock, 0, s>>>(x, y, norms, R, D, eps);
  }
}

template <typename T>
void l2_normalize_backward(const T* gy, const T* y, const float* norms, T* gx, int64_t R, int64_t D, float eps,
                           cudaStream_t s) {
  if (R <= 0 || D <= 0) return;
  if (D >= kBlockRowMin) {
    l2_backward_kernel<T, kBlock><<<row_grid(R, 1), kBlock, 0, s>>>(gy, y, norms, gx, R, D, eps);
  } else {
    l2_backward_kernel<T, 32><<<row_grid(R, kBlock / 32), kBlock, 0, s>>>(gy, y, norms, gx, R, D, eps);
  }
}

#define RSD_INSTANTIATE_L2NORM(T)                                                                          \
  template void l2_normalize_forward<T>(const T*, T*, float*, int64_t, int64_t, float, cudaStream_t);      \
  template void l2_normalize_backward<T>(const T*, const T*, const float*, T*, int64_t, int64_t, float,     \
                                         cudaStream_t);

RSD_INSTANTIATE_L2NORM(float)
RSD_INSTANTIATE_L2NORM(__nv_bfloat16)

#undef RSD_INSTANTIATE_L2NORM

}  // namespace rsd::kernels
