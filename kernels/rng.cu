// Random fills: one thread per element evaluates philox.h's per-element functions, so the output
// does not depend on the launch shape and matches the host implementation element for element.
#include "rng.cuh"

#include "common.cuh"
#include "philox.h"

namespace rsd::kernels {
namespace {

// nvcc contracts `a + b * c` into one fma, which the host compiler (no FMA contraction on
// baseline x86-64) does not. The unit draws below use lo = 0, hi = 1 (mean = 0, std = 1), where
// the contracted and plain forms agree exactly; the affine step is then rounded explicitly
// (mul, then add) as on the host.
__device__ __forceinline__ float affine_rn(float base, float scale, float unit) {
  return __fadd_rn(base, __fmul_rn(scale, unit));
}

template <typename T>
__global__ void uniform_kernel(T* y, int64_t n, uint64_t seed, uint64_t offset, float lo, float hi) {
  const float width = hi - lo;
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    const float u = philox_uniform_at(seed, offset, static_cast<uint64_t>(i), 0.0f, 1.0f);
    y[i] = from_float<T>(affine_rn(lo, width, u));
  }
}

template <typename T>
__global__ void normal_kernel(T* y, int64_t n, uint64_t seed, uint64_t offset, float mean, float std) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    const float z = philox_normal_at(seed, offset, static_cast<uint64_t>(i), 0.0f, 1.0f);
    y[i] = from_float<T>(affine_rn(mean, std, z));
  }
}

}  // namespace

template <typename T>
void fill_uniform(T* y, int64_t n, uint64_t seed, uint64_t offset, float lo, float hi, cudaStream_t s) {
  if (n <= 0) return;
  uniform_kernel<T><<<grid_for(n), kBlock, 0, s>>>(y, n, seed, offset, lo, hi);
}

template <typename T>
void fill_normal(T* y, int64_t n, uint64_t seed, uint64_t offset, float mean, float std, cudaStream_t s) {
  if (n <= 0) return;
  normal_kernel<T><<<grid_for(n), kBlock, 0, s>>>(y, n, seed, offset, mean, std);
}

#define RSD_INSTANTIATE_RNG(T)                                                                  \
  template void fill_uniform<T>(T*, int64_t, uint64_t, uint64_t, float, float, cudaStream_t);   \
  template void fill_normal<T>(T*, int64_t, uint64_t, uint64_t, float, float, cudaStream_t);

RSD_INSTANTIATE_RNG(float)
RSD_INSTANTIATE_RNG(__nv_bfloat16)

#undef RSD_INSTANTIATE_RNG

}  // namespace rsd::kernels
