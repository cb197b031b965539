// Elementwise type conversion among float, double, __nv_bfloat16, __half, int32_t, uint8_t.
#include "cast.cuh"

#include "common.cuh"

namespace rsd::kernels {
namespace {

// Convert<To>::from(x) has one overload per source type so that each pair picks its exact
// conversion (one rounding step wherever an intrinsic allows it).
template <typename To>
struct Convert;

template <>
struct Convert<float> {
  __device__ static float from(float x) { return x; }
  __device__ static float from(double x) { return static_cast<float>(x); }
  __device__ static float from(__nv_bfloat16 x) { return __bfloat162float(x); }
  __device__ static float from(__half x) { return __half2float(x); }
  __device__ static float from(int32_t x) { return static_cast<float>(x); }
  __device__ static float from(uint8_t x) { return static_cast<float>(x); }
};

template <>
struct Convert<double> {
  __device__ static double from(float x) { return x; }
  __device__ static double from(double x) { return x; }
  __device__ static double from(__nv_bfloat16 x) { return __bfloat162float(x); }
  __device__ static double from(__half x) { return __half2float(x); }
  __device__ static double from(int32_t x) { return x; }
  __device__ static double from(uint8_t x) { return x; }
};

// bf16 -> float and uint8 -> float are exact, so going through float rounds only once.
template <>
struct Convert<__nv_bfloat16> {
  __device__ static __nv_bfloat16 from(float x) { return __float2bfloat16_rn(x); }
  __device__ static __nv_bfloat16 from(double x) { return __double2bfloat16(x); }
  __device__ static __nv_bfloat16 from(__nv_bfloat16 x) { return x; }
  __device__ static __nv_bfloat16 from(__half x) { return __float2bfloat16_rn(__half2float(x)); }
  __device__ static __nv_bfloat16 from(int32_t x) { return __int2bfloat16_rn(x); }
  __device__ static __nv_bfloat16 from(uint8_t x) { return __float2bfloat16_rn(static_cast<float>(x)); }
};

template <>
struct Convert<__half> {
  __device__ static __half from(float x) { return __float2half_rn(x); }
  __device__ static __half from(double x) { return __double2half(x); }
  __device__ static __half from(__nv_bfloat16 x) { return __float2half_rn(__bfloat162float(x)); }
  __device__ static __half from(__half x) { return x; }
  __device__ static __half from(int32_t x) { return __int2half_rn(x); }
  __device__ static __half from(uint8_t x) { return __float2half_rn(static_cast<float>(x)); }
};

template <>
struct Convert<int32_t> {
  __device__ static int32_t from(float x) { return static_cast<int32_t>(x); }
  __device__ static int32_t from(double x) { return static_cast<int32_t>(x); }
  __device__ static int32_t from(__nv_bfloat16 x) { return static_cast<int32_t>(__bfloat162float(x)); }
  __device__ static int32_t from(__half x) { return static_cast<int32_t>(__half2float(x)); }
  __device__ static int32_t from(int32_t x) { return x; }
  __device__ static int32_t from(uint8_t x) { return x; }
};

template <>
struct Convert<uint8_t> {
  template <typename From>
  __device__ static uint8_t from(From x) {
    return static_cast<uint8_t>(Convert<int32_t>::from(x));
  }
};

template <typename Tin, typename Tout>
__global__ void cast_kernel(const Tin* x, Tout* y, int64_t n) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) y[i] = Convert<Tout>::from(x[i]);
}

}  // namespace

template <typename Tin, typename Tout>
void cast(const Tin* x, Tout* y, int64_t n, cudaStream_t s) {
  if (n <= 0) return;
  cast_kernel<Tin, Tout><<<grid_for(n), kBlock, 0, s>>>(x, y, n);
}

#define RSD_INSTANTIATE_CAST(Tin, Tout) template void cast<Tin, Tout>(const Tin*, Tout*, int64_t, cudaStream_t);
#define RSD_INSTANTIATE_CAST_FROM(Tin)     \
  RSD_INSTANTIATE_CAST(Tin, float)         \
  RSD_INSTANTIATE_CAST(Tin, double)        \
  RSD_INSTANTIATE_CAST(Tin, __nv_bfloat16) \
  RSD_INSTANTIATE_CAST(Tin, __half)        \
  RSD_INSTANTIATE_CAST(Tin, int32_t)       \
  RSD_INSTANTIATE_CAST(Tin, uint8_t)

RSD_INSTANTIATE_CAST_FROM(float)
RSD_INSTANTIATE_CAST_FROM(double)
RSD_INSTANTIATE_CAST_FROM(__nv_bfloat16)
RSD_INSTANTIATE_CAST_FROM(__half)
RSD_INSTANTIATE_CAST_FROM(int32_t)
RSD_INSTANTIATE_CAST_FROM(uint8_t)

#undef RSD_INSTANTIATE_CAST_FROM
#undef RSD_INSTANTIATE_CAST

}  // namespace rsd::kernels
