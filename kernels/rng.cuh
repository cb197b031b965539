// Random fills from the Philox4x32-10 stream of philox.h: element i of a fill with (seed, offset)
// equals the CPU backend's element i. Host header: plain C++, no engine types.
#pragma once
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cstdint>

namespace rsd::kernels {

// y[i] = philox_uniform_at(seed, offset, i, lo, hi), rounded to T. T: float, __nv_bfloat16.
template <typename T>
void fill_uniform(T* y, int64_t n, uint64_t seed, uint64_t offset, float lo, float hi, cudaStream_t s);

// y[i] = philox_normal_at(seed, offset, i, mean, std), rounded to T. T: float, __nv_bfloat16.
template <typename T>
void fill_normal(T* y, int64_t n, uint64_t seed, uint64_t offset, float mean, float std, cudaStream_t s);

}  // namespace rsd::kernels
