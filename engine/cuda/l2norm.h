// CUDA side of engine/ops/l2norm.h.
#pragma once
#include "engine/tensor.h"

namespace rsd::cuda {

// x, y: (R, D); norms: f32 (R), the unclamped row norms.
void l2_normalize_forward(const Tensor& x, Tensor& y, Tensor& norms, double eps);
// gy, y, gx: (R, D); norms from the forward pass.
void l2_normalize_backward(const Tensor& gy, const Tensor& y, const Tensor& norms, Tensor& gx, double eps);

}  // namespace rsd::cuda
