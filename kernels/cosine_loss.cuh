// The normalized-projection cosine loss of BYOL / RS-BYOL: for rows p_r (online prediction) and
// z_r (target projection) of (R, D) row-major matrices,
//   L_r = 2 - 2 <p_r, z_r> / (max(|p_r|, eps) max(|z_r|, eps)),
// with the gradient for p only (z is the target network's output). Host header: plain C++, no
// engine types. T: float, __nv_bfloat16 (storage); all arithmetic in float.
#pragma once
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cstdint>

namespace rsd::kernels {

// The fused kernel: one pass over p and z computes per row |p|, |z|, <p, z>, the row loss and the
// gradient. Either output may be null:
//   row_loss: (R) floats, row_loss[r] = L_r (the caller reduces them, e.g. reduce_sum with 1/R);
//   dp: (R, D), dp_r = scale * dL_r/dp_r with scale = grad_scale * (grad_scale_device ?
//       grad_scale_device[0] : 1). grad_scale is a host multiplier (1/R for the mean, a loss
//       weight); grad_scale_device is an upstream gradient that lives on the device (autograd's
//       dL/dloss, read by the kernel, so the host never waits for it).
// dL_r/dp_r = -2 z/(np nz) + 2 cos p/np^2 where |p_r| > eps, and -2 z/(eps nz) otherwise
// (np = max(|p_r|, eps), nz = max(|z_r|, eps), cos = <p, z>/(np nz)); see cosine_loss.cu.
// Deterministic: each row's sums have a fixed order that depends only on (D, T, alignment).
template <typename T>
void cosine_loss_rows(const T* p, const T* z, float* row_loss, T* dp, int64_t R, int64_t D, float eps,
                      float grad_scale, const float* grad_scale_device, cudaStream_t s);

// ---- The plain path: simple kernels around kernels/l2norm.cuh, every intermediate in memory. ----

// phat, zhat: (R, D), rows already L2-normalized; row_loss: (R), row_loss[r] = 2 - 2 <phat_r, zhat_r>.
template <typename T>
void plain_cosine_row_loss(const T* phat, const T* zhat, float* row_loss, int64_t R, int64_t D, cudaStream_t s);

// The gradient with respect to the normalized prediction: dphat[i] = -2 * scale * zhat[i] over n
// elements, scale = grad_scale * (grad_scale_device ? grad_scale_device[0] : 1).
template <typename T>
void plain_cosine_grad_normalized(const T* zhat, T* dphat, int64_t n, float grad_scale,
                                  const float* grad_scale_device, cudaStream_t s);

}  // namespace rsd::kernels
