// Elementwise kernels over flat arrays of n elements (any layout; only n matters).
// Host header: plain C++, no engine types.
#pragma once
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cstdint>

namespace rsd::kernels {

// y = x > 0 ? x : 0 (NaN gives 0, as on the CPU backend); T: float, __nv_bfloat16.
template <typename T>
void relu_forward(const T* x, T* y, int64_t n, cudaStream_t s);

// gx = y > 0 ? gy : 0, where y is the forward output; T: float, __nv_bfloat16.
template <typename T>
void relu_backward(const T* y, const T* gy, T* gx, int64_t n, cudaStream_t s);

// y = x * Phi(x) = x / 2 * (1 + erf(x / sqrt(2))) (exact GELU), in float; T: float, __nv_bfloat16.
template <typename T>
void gelu_forward(const T* x, T* y, int64_t n, cudaStream_t s);

// gx = gy * (Phi(x) + x * phi(x)), from the forward's input x; T: float, __nv_bfloat16.
template <typename T>
void gelu_backward(const T* x, const T* gy, T* gx, int64_t n, cudaStream_t s);

// y = exp(x), computed in float; T: float, __nv_bfloat16.
template <typename T>
void exp_forward(const T* x, T* y, int64_t n, cudaStream_t s);

// y = s * x, computed in float; T: float, __nv_bfloat16.
template <typename T>
void scale(const T* x, float s, T* y, int64_t n, cudaStream_t stream);

// gx = gy * y, where y = exp(x) is the forward output; T: float, __nv_bfloat16.
template <typename T>
void exp_backward(const T* y, const T* gy, T* gx, int64_t n, cudaStream_t s);

// y = a + b (y may alias a or b); T: float, __nv_bfloat16.
template <typename T>
void add(const T* a, const T* b, T* y, int64_t n, cudaStream_t s);

// dst += src; T: float, __nv_bfloat16.
template <typename T>
void accumulate(T* dst, const T* src, int64_t n, cudaStream_t s);

// y[i] = value converted to T as the engine's CPU fill does (engine/copy.cpp): double exactly,
// float and the 16-bit types through float (round to nearest even), int32_t truncated toward
// zero, uint8_t through int32_t (the low 8 bits; exact in [0, 255]). The value stays a double up
// to the conversion, so an f64 or large int32 fill is not rounded through float.
// T: float, double, __nv_bfloat16, __half, int32_t, uint8_t.
template <typename T>
void fill(T* y, double value, int64_t n, cudaStream_t s);

// y[i] = scalar[0] * mul, with scalar a single device element outside y; T: float, __nv_bfloat16.
template <typename T>
void fill_from_scalar(const T* scalar, float mul, T* y, int64_t n, cudaStream_t s);

}  // namespace rsd::kernels
