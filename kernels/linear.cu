// The linear layer's bias, broadcast over the rows of the GEMM's output in place.
#include "linear.cuh"

#include "common.cuh"

namespace rsd::kernels {
namespace {

// One thread per column keeps b[c] in a register and strides over the rows, kColumnUnroll loads
// in flight (the per-column layout of common.cuh). Grid: column_apply_grid(rows, cols).
template <typename T>
__global__ void add_bias_kernel(T* y, const T* b, int64_t rows, int64_t cols) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kColTile + threadIdx.x;
  if (c >= cols) return;
  const float bias = to_float(b[c]);
  const int64_t step = static_cast<int64_t>(gridDim.y) * kRowLanes;
  for (int64_t r = static_cast<int64_t>(blockIdx.y) * kRowLanes + threadIdx.y; r < rows; r += kColumnUnroll * step) {
    float v[kColumnUnroll];
    load_column(y, cols, c, r, step, rows, v);
#pragma unroll
    for (int k = 0; k < kColumnUnroll; ++k) {
      const int64_t rr = r + k * step;
      if (rr < rows) y[rr * cols + c] = from_float<T>(v[k] + bias);
    }
  }
}

}  // namespace

template <typename T>
void linear_add_bias(T* y, const T* b, int64_t rows, int64_t cols, cudaStream_t s) {
  if (rows <= 0 || cols <= 0) return;
  add_bias_kernel<T><<<column_apply_grid(rows, cols), dim3(kColTile, kRowLanes), 0, s>>>(y, b, rows, cols);
}

template void linear_add_bias<float>(float*, const float*, int64_t, int64_t, cudaStream_t);
template void linear_add_bias<__nv_bfloat16>(__nv_bfloat16*, const __nv_bfloat16*, int64_t, int64_t, cudaStream_t);

}  // namespace rsd::kernels
