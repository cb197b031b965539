// Pooling over NHWC activations. Host header: plain C++, no engine types.
#pragma once
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cstdint>

namespace rsd::kernels {

// x: (N, H, W, C); y, argmax: (N, P, Q, C). Window (p, q) covers rows p*stride - pad + [0, kh) and
// columns q*stride - pad + [0, kw); padding never wins. argmax = h*W + w of the maximum within
// image n (channel implied); ties go to the first element in row-major window order, and a NaN
// wins over numbers. A window lying wholly in padding gives y = -inf, argmax = -1.
// T: float, __nv_bfloat16.
template <typename T>
void maxpool2d_forward(const T* x, T* y, int32_t* argmax, int N, int H, int W, int C, int kh, int kw,
                       int stride, int pad, int P, int Q, cudaStream_t s);

// gy, argmax: (N, P, Q, C); gx: (N, H, W, C). gx[n, h, w, c] = sum of gy over the windows that
// contain (h, w) and whose argmax is h*W + w; every element of gx is written. No atomics.
// T: float, __nv_bfloat16.
template <typename T>
void maxpool2d_backward(const T* gy, const int32_t* argmax, T* gx, int N, int H, int W, int C, int kh,
                        int kw, int stride, int pad, int P, int Q, cudaStream_t s);

// x: (N, HW, C) -> y: (N, C), the mean over HW (HW == 0 gives 0). T: float, __nv_bfloat16.
template <typename T>
void global_avgpool_forward(const T* x, T* y, int N, int HW, int C, cudaStream_t s);

// gy: (N, C) -> gx: (N, HW, C), gx[n, i, c] = gy[n, c] / HW. T: float, __nv_bfloat16.
template <typename T>
void global_avgpool_backward(const T* gy, T* gx, int N, int HW, int C, cudaStream_t s);

}  // namespace rsd::kernels
