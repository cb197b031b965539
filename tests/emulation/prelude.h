// Included first by every kernels/*.cu file translated for the CPU emulator
// (tests/emulation/translate_cu.py): the CUDA headers in host mode for the types and conversions
// (dim3, float4, __nv_bfloat16, __half), then the device-side vocabulary mapped onto
// tests/emulation/simt.h. Kernels compiled this way run on the emulator's fibers; any CUDA
// runtime call without a stand-in below fails to link (the emulated build does not link cudart).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "tests/emulation/simt.h"

// Qualifiers: plain host functions; __shared__ variables are per block, and blocks run one at a
// time, so a static does.
#undef __global__
#define __global__
#undef __device__
#define __device__
#undef __host__
#define __host__
#undef __forceinline__
#define __forceinline__ inline
#undef __launch_bounds__
#define __launch_bounds__(...)
#undef __shared__
#define __shared__ static

// Built-in variables and barriers.
#define threadIdx (::rsd::emu::thread_idx())
#define blockIdx (::rsd::emu::block_idx())
#define blockDim (::rsd::emu::block_dim())
#define gridDim (::rsd::emu::grid_dim())
#ifndef warpSize
#define warpSize 32
#endif

inline void __syncthreads() { ::rsd::emu::sync_threads(); }
inline void __syncwarp(unsigned = 0xffffffffu) { ::rsd::emu::sync_warp(); }

template <typename T>
T __shfl_xor_sync(unsigned, T v, int mask, int width = 32) {
  return ::rsd::emu::shfl_xor(v, mask, width);
}
template <typename T>
T __shfl_down_sync(unsigned, T v, unsigned delta, int width = 32) {
  return ::rsd::emu::shfl_down(v, delta, width);
}
template <typename T>
T __shfl_up_sync(unsigned, T v, unsigned delta, int width = 32) {
  return ::rsd::emu::shfl_up(v, delta, width);
}
template <typename T>
T __shfl_sync(unsigned, T v, int src_lane, int width = 32) {
  return ::rsd::emu::shfl(v, src_lane, width);
}

// Atomics: fibers never run at the same time, so a plain read-modify-write is atomic.
template <typename T>
T atomicAdd(T* p, T v) {
  const T old = *p;
  *p = old + v;
  return old;
}

// Device intrinsics without host definitions in the CUDA headers.
inline float __uint_as_float(unsigned u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
inline unsigned __float_as_uint(float f) {
  unsigned u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
// IEEE single operations rounded to nearest even, never contracted into an FMA: the host
// compiler contracts nothing on baseline x86-64, so the plain operators are these.
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fmul_rn(float a, float b) { return a * b; }
// Device math functions CUDA declares in the global namespace (the host has them in std::).
inline bool isnan(float x) { return std::isnan(x); }
inline bool isfinite(float x) { return std::isfinite(x); }
inline bool isfinite(double x) { return std::isfinite(x); }
inline int min(int a, int b) { return a < b ? a : b; }
template <typename T>
T __ldg(const T* p) {
  return *p;
}

// Runtime calls the launchers make.
namespace rsd::emu {
// A GPU refuses a dynamic shared memory size beyond what a block may opt in to (the device's
// limit, Options::max_dynamic_shared) and leaves the kernel's setting as it was.
template <typename K>
cudaError_t func_set_attribute(K* kernel, cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize) return cudaSuccess;
  if (value < 0 || static_cast<size_t>(value) > options().max_dynamic_shared) return cudaErrorInvalidValue;
  set_max_dynamic_shared(reinterpret_cast<const void*>(kernel), value);
  return cudaSuccess;
}
inline cudaError_t get_device(int* d) {
  *d = 0;
  return cudaSuccess;
}
inline cudaError_t device_get_attribute(int* v, cudaDeviceAttr attr, int) {
  *v = attr == cudaDevAttrMultiProcessorCount ? options().multiprocessors : 0;
  return cudaSuccess;
}
template <typename Stream>
cudaError_t memset_async(void* p, int value, size_t n, Stream) {
  std::memset(p, value, n);
  return cudaSuccess;
}
template <typename Stream>
cudaError_t memcpy_async(void* dst, const void* src, size_t n, cudaMemcpyKind, Stream) {
  std::memmove(dst, src, n);
  return cudaSuccess;
}
inline cudaError_t get_last_error() { return cudaSuccess; }
}  // namespace rsd::emu

#define cudaFuncSetAttribute ::rsd::emu::func_set_attribute
#define cudaGetDevice ::rsd::emu::get_device
#define cudaDeviceGetAttribute ::rsd::emu::device_get_attribute
#define cudaMemsetAsync ::rsd::emu::memset_async
#define cudaMemcpyAsync ::rsd::emu::memcpy_async
#define cudaGetLastError ::rsd::emu::get_last_error
