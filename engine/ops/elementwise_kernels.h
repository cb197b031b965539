// The kernels of the element-wise ops (engine/ops/elementwise.h), declared once for every backend:
// engine/cpu/elementwise.cpp (the reference) and engine/cuda/elementwise.cpp implement them, and
// engine/onednn/elementwise.cpp some.
// Every tensor has the same shape, dtype and device (checked by the ops).
#pragma once
#include "engine/op.h"

namespace rsd {

RSD_DECLARE_KERNEL(relu_forward, (const Tensor& x, Tensor& y));
RSD_DECLARE_KERNEL(relu_backward, (const Tensor& y, const Tensor& gy, Tensor& gx));
RSD_DECLARE_KERNEL(gelu_forward, (const Tensor& x, Tensor& y));
RSD_DECLARE_KERNEL(gelu_backward, (const Tensor& x, const Tensor& gy, Tensor& gx));
RSD_DECLARE_KERNEL(exp_forward, (const Tensor& x, Tensor& y));
RSD_DECLARE_KERNEL(exp_backward, (const Tensor& y, const Tensor& gy, Tensor& gx));
RSD_DECLARE_KERNEL(scale, (const Tensor& x, double s, Tensor& y));
RSD_DECLARE_KERNEL(add, (const Tensor& a, const Tensor& b, Tensor& y));
// y = max(a + b, 0): a residual block's end in one pass.
RSD_DECLARE_KERNEL(add_relu_forward, (const Tensor& a, const Tensor& b, Tensor& y));
RSD_DECLARE_KERNEL(accumulate, (Tensor & dst, const Tensor& src));

// engine/onednn/elementwise.cpp: the ones a training step runs most, on oneDNN (f32).
RSD_DECLARE_ONEDNN_KERNEL(relu_forward)
RSD_DECLARE_ONEDNN_KERNEL(relu_backward)
RSD_DECLARE_ONEDNN_KERNEL(add)
RSD_DECLARE_ONEDNN_KERNEL(add_relu_forward)
RSD_DECLARE_ONEDNN_KERNEL(accumulate)

}  // namespace rsd
