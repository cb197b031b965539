// Row-wise L2 normalization of x: (R, D) row-major. Host header: plain C++, no engine types.
#pragma once
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cstdint>

namespace rsd::kernels {

// norms: (R), norms[r] = |x_r| (not clamped); y = x / max(|x_r|, eps). T: float, __nv_bfloat16.
template <typename T>
void l2_normalize_forward(const T* x, T* y, float* norms, int64_t R, int64_t D, float eps, cudaStream_t s);

// gy, y, gx: (R, D); norms from the forward pass. norm > eps: gx = (gy - y * <gy, y>) / norm;
// otherwise gx = gy / eps. T: float, __nv_bfloat16.
template <typename T>
void l2_normalize_backward(const T* gy, const T* y, const float* norms, T* gx, int64_t R, int64_t D, float eps,
                           cudaStream_t s);

}  // namespace rsd::kernels
