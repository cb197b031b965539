// Deterministic sums: a whole array to a scalar, and the rows of a matrix to one row.
// Host header: plain C++, no engine types.
#pragma once
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cstdint>

namespace rsd::kernels {

// Bytes of device workspace reduce_sum needs for n elements.
size_t reduce_workspace_bytes(int64_t n);

// out[0] = scale * sum(x[0..n)), accumulated in float in an order that depends only on n.
// n == 0 writes out[0] = 0. workspace: reduce_workspace_bytes(n) bytes. T: float, __nv_bfloat16.
template <typename T>
void reduce_sum(const T* x, T* out, int64_t n, float scale, void* workspace, cudaStream_t s);

// Bytes of device workspace sum_rows needs for a (rows, cols) input.
size_t sum_rows_workspace_bytes(int64_t rows, int64_t cols);

// x: (rows, cols) row-major; y: (cols), y[c] = sum_r x[r, c], accumulated in float in an order
// that depends only on (rows, cols). rows == 0 writes zeros. workspace: sum_rows_workspace_bytes.
// T: float, __nv_bfloat16.
template <typename T>
void sum_rows(const T* x, T* y, int64_t rows, int64_t cols, void* workspace, cudaStream_t s);

}  // namespace rsd::kernels
