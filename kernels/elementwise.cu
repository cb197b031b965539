// Elementwise kernels: relu and gelu forward/backward, exp forward/backward, scale, add, accumulate, fill.
// Arithmetic in float.
#include "elementwise.cuh"

#include "common.cuh"

namespace rsd::kernels {
namespace {

// 16 bytes of T: the widest load or store one thread issues in one instruction.
template <typename T>
struct alignas(16) Pack16 {
  static constexpr int kN = 16 / static_cast<int>(sizeof(T));
  T v[kN];
};

inline bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// y[i] = op(a[i]) for i < n. With `packed` (every pointer 16-byte aligned) threads move 16-byte
// packs and the n % kN tail is done element by element. y may alias a.
template <typename T, typename Op>
__global__ void map1_kernel(const T* a, T* y, int64_t n, bool packed, Op op) {
  using P = Pack16<T>;
  int64_t done = 0;
  if (packed) {
    const int64_t packs = n / P::kN;
    for (int64_t i = global_thread(); i < packs; i += grid_threads()) {
      const P pa = reinterpret_cast<const P*>(a)[i];
      P py;
#pragma unroll
      for (int k = 0; k < P::kN; ++k) py.v[k] = from_float<T>(op(to_float(pa.v[k])));
      reinterpret_cast<P*>(y)[i] = py;
    }
    done = packs * P::kN;
  }
  for (int64_t i = done + global_thread(); i < n; i += grid_threads()) y[i] = from_float<T>(op(to_float(a[i])));
}

// y[i] = op(a[i], b[i]) for i < n; same packing scheme as map1_kernel. y may alias a or b.
template <typename T, typename Op>
__global__ void map2_kernel(const T* a, const T* b, T* y, int64_t n, bool packed, Op op) {
  using P = Pack16<T>;
  int64_t done = 0;
  if (packed) {
    const int64_t packs = n / P::kN;
    for (int64_t i = global_thread(); i < packs; i += grid_threads()) {
      const P pa = reinterpret_cast<const P*>(a)[i];
      const P pb = reinterpret_cast<const P*>(b)[i];
      P py;
#pragma unroll
      for (int k = 0; k < P::kN; ++k) py.v[k] = from_float<T>(op(to_float(pa.v[k]), to_float(pb.v[k])));
      reinterpret_cast<P*>(y)[i] = py;
    }
    done = packs * P::kN;
  }
  for (int64_t i = done + global_thread(); i < n; i += grid_threads())
    y[i] = from_float<T>(op(to_float(a[i]), to_float(b[i])));
}

// Same rule as the CPU backend: anything not greater than 0, NaN included, becomes 0.
struct ReluOp {
  __device__ float operator()(float x) const { return x > 0.0f ? x : 0.0f; }
};

struct ReluBackwardOp {
  __device__ float operator()(float y, float gy) const { return y > 0.0f ? gy : 0.0f; }
};

// erff: CUDA's single-precision erf (max 2 ulp), the same function for f32 and bf16 storage.
struct GeluOp {
  __device__ float operator()(float x) const { return 0.5f * x * (1.0f + erff(x * 0.70710678f)); }
};

struct GeluBackwardOp {
  __device__ float operator()(float x, float gy) const {
    const float cdf = 0.5f * (1.0f + erff(x * 0.70710678f));
    return gy * (cdf + x * 0.39894228f * expf(-0.5f * x * x));
  }
};

struct ExpOp {
  __device__ float operator()(float x) const { return expf(x); }
};

// y = exp(x), so dy/dx = y.
struct ExpBackwardOp {
  __device__ float operator()(float y, float gy) const { return gy * y; }
};

struct ScaleOp {
  float s;
  __device__ float operator()(float x) const { return s * x; }
};

struct AddOp {
  __device__ float operator()(float a, float b) const { return a + b; }
};

template <typename T, typename Op>
void launch_map1(const T* a, T* y, int64_t n, Op op, cudaStream_t s) {
  if (n <= 0) return;
  const bool packed = aligned16(a) && aligned16(y);
  const int64_t work = packed ? ceil_div(n, Pack16<T>::kN) : n;
  map1_kernel<T, Op><<<grid_for(work), kBlock, 0, s>>>(a, y, n, packed, op);
}

template <typename T, typename Op>
void launch_map2(const T* a, const T* b, T* y, int64_t n, Op op, cudaStream_t s) {
  if (n <= 0) return;
  const bool packed = aligned16(a) && aligned16(b) && aligned16(y);
  const int64_t work = packed ? ceil_div(n, Pack16<T>::kN) : n;
  map2_kernel<T, Op><<<grid_for(work), kBlock, 0, s>>>(a, b, y, n, packed, op);
}

// A fill value in T by the CPU's rules (elementwise.cuh: fill).
template <typename T>
__device__ __forceinline__ T fill_value(double v) {
  return from_float<T>(static_cast<float>(v));
}
template <>
__device__ __forceinline__ double fill_value<double>(double v) {
  return v;
}
template <>
__device__ __forceinline__ int32_t fill_value<int32_t>(double v) {
  return static_cast<int32_t>(v);
}
template <>
__device__ __forceinline__ uint8_t fill_value<uint8_t>(double v) {
  return static_cast<uint8_t>(static_cast<int32_t>(v));
}

template <typename T>
__global__ void fill_kernel(T* y, double value, int64_t n) {
  const T v = fill_value<T>(value);
  for (int64_t i = global_thread(); i < n; i += grid_threads()) y[i] = v;
}

// scalar: one device element, read by every thread (a broadcast load, served from cache).
template <typename T>
__global__ void fill_from_scalar_kernel(const T* scalar, float mul, T* y, int64_t n) {
  const T v = from_float<T>(to_float(scalar[0]) * mul);
  for (int64_t i = global_thread(); i < n; i += grid_threads()) y[i] = v;
}

}  // namespace

template <typename T>
void relu_forward(const T* x, T* y, int64_t n, cudaStream_t s) {
  launch_map1(x, y, n, ReluOp{}, s);
}

template <typename T>
void relu_backward(const T* y, const T* gy, T* gx, int64_t n, cudaStream_t s) {
  launch_map2(y, gy, gx, n, ReluBackwardOp{}, s);
}

template <typename T>
void gelu_forward(const T* x, T* y, int64_t n, cudaStream_t s) {
  launch_map1(x, y, n, GeluOp{}, s);
}

template <typename T>
void gelu_backward(const T* x, const T* gy, T* gx, int64_t n, cudaStream_t s) {
  launch_map2(x, gy, gx, n, GeluBackwardOp{}, s);
}

template <typename T>
void exp_forward(const T* x, T* y, int64_t n, cudaStream_t s) {
  launch_map1(x, y, n, ExpOp{}, s);
}

template <typename T>
void exp_backward(const T* y, const T* gy, T* gx, int64_t n, cudaStream_t s) {
  launch_map2(y, gy, gx, n, ExpBackwardOp{}, s);
}

template <typename T>
void scale(const T* x, float factor, T* y, int64_t n, cudaStream_t s) {
  launch_map1(x, y, n, ScaleOp{factor}, s);
}

template <typename T>
void add(const T* a, const T* b, T* y, int64_t n, cudaStream_t s) {
  launch_map2(a, b, y, n, AddOp{}, s);
}

template <typename T>
void accumulate(T* dst, const T* src, int64_t n, cudaStream_t s) {
  launch_map2(static_cast<const T*>(dst), src, dst, n, AddOp{}, s);
}

template <typename T>
void fill(T* y, double value, int64_t n, cudaStream_t s) {
  if (n <= 0) return;
  fill_kernel<T><<<grid_for(n), kBlock, 0, s>>>(y, value, n);
}

template <typename T>
void fill_from_scalar(const T* scalar, float mul, T* y, int64_t n, cudaStream_t s) {
  if (n <= 0) return;
  fill_from_scalar_kernel<T><<<grid_for(n), kBlock, 0, s>>>(scalar, mul, y, n);
}

#define RSD_INSTANTIATE_ELEMENTWISE(T)                                              \
  template void relu_forward<T>(const T*, T*, int64_t, cudaStream_t);               \
  template void relu_backward<T>(const T*, const T*, T*, int64_t, cudaStream_t);    \
  template void gelu_forward<T>(const T*, T*, int64_t, cudaStream_t);               \
  template void gelu_backward<T>(const T*, const T*, T*, int64_t, cudaStream_t);    \
  template void exp_forward<T>(const T*, T*, int64_t, cudaStream_t);                \
  template void exp_backward<T>(const T*, const T*, T*, int64_t, cudaStream_t);     \
  template void scale<T>(const T*, float, T*, int64_t, cudaStream_t);               \
  template void add<T>(const T*, const T*, T*, int64_t, cudaStream_t);              \
  template void accumulate<T>(T*, const T*, int64_t, cudaStream_t);                 \
  template void fill_from_scalar<T>(const T*, float, T*, int64_t, cudaStream_t);

RSD_INSTANTIATE_ELEMENTWISE(float)
RSD_INSTANTIATE_ELEMENTWISE(__nv_bfloat16)
template void fill<float>(float*, double, int64_t, cudaStream_t);
template void fill<double>(double*, double, int64_t, cudaStream_t);
template void fill<__nv_bfloat16>(__nv_bfloat16*, double, int64_t, cudaStream_t);
template void fill<__half>(__half*, double, int64_t, cudaStream_t);
template void fill<int32_t>(int32_t*, double, int64_t, cudaStream_t);
template void fill<uint8_t>(uint8_t*, double, int64_t, cudaStream_t);

#undef RSD_INSTANTIATE_ELEMENTWISE

}  // namespace rsd::kernels
