// The kernels of linear (engine/ops/linear.h), declared once for every backend:
// engine/cpu/linear.cpp (the reference, BLAS GEMMs), engine/onednn/linear.cpp and engine/cuda/linear.cpp (cuBLAS GEMMs, the
// bias added by a broadcast kernel and its gradient by a row-sum kernel).
#pragma once
#include "engine/op.h"

namespace rsd {

// y (N,out) = x (N,in) w^T (out,in), plus b (out) when b is defined.
RSD_DECLARE_KERNEL(linear_forward, (const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y));
// dx (N,in) = gy (N,out) w (out,in).
RSD_DECLARE_KERNEL(linear_backward_input, (const Tensor& gy, const Tensor& w, Tensor& dx));
// dw (out,in) = gy^T (out,N) x (N,in).
RSD_DECLARE_KERNEL(linear_backward_weight, (const Tensor& gy, const Tensor& x, Tensor& dw));
// db (out) = sum over rows of gy (N,out).
RSD_DECLARE_KERNEL(linear_backward_bias, (const Tensor& gy, Tensor& db));

// engine/onednn/linear.cpp: the three GEMMs on oneDNN (f32).
RSD_DECLARE_ONEDNN_KERNEL(linear_forward)
RSD_DECLARE_ONEDNN_KERNEL(linear_backward_input)
RSD_DECLARE_ONEDNN_KERNEL(linear_backward_weight)

}  // namespace rsd
