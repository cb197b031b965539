// The kernels of l2_normalize (engine/ops/l2norm.h), declared once for every backend:
// engine/cpu/l2norm.cpp (the reference) and engine/cuda/l2norm.cpp.
#pragma once
#include "engine/op.h"

namespace rsd {

// x, y: (R, D); norms (R): the unclamped row norms, f32 on CUDA, x's dtype on the CPU.
RSD_DECLARE_KERNEL(l2_normalize_forward, (const Tensor& x, Tensor& y, Tensor& norms, double eps));
// gy, y, gx: (R, D); norms from the forward pass.
RSD_DECLARE_KERNEL(l2_normalize_backward,
                   (const Tensor& gy, const Tensor& y, const Tensor& norms, Tensor& gx, double eps));

}  // namespace rsd
