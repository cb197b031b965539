// The linear layer's kernel beside cuBLAS's GEMMs (engine/cuda/linear.cpp): the bias added to the
// GEMM's output. (The bias gradient is reduce.cuh's sum_rows.) Host header: plain C++, no engine
// types.
#pragma once
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cstdint>

namespace rsd::kernels {

// y (rows, cols) row-major: y[r, c] += b[c], in float, one rounding to T. T: float, __nv_bfloat16.
template <typename T>
void linear_add_bias(T* y, const T* b, int64_t rows, int64_t cols, cudaStream_t s);

}  // namespace rsd::kernels
