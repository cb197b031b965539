// The kernels of conv2d (engine/ops/conv2d.h), declared once for every backend:
// engine/cpu/conv2d.cpp (the reference: im2col + BLAS GEMM per image) and engine/cuda/conv2d.cpp
// (cuDNN, NHWC descriptors; f32 with FMA math, no TF32, or bf16 with f32 accumulation) and, in
// builds with oneDNN, engine/onednn/conv2d.cpp.
// Shapes: x (N,H,W,C), w (K,R,S,C), y and gy (N,P,Q,K).
#pragma once
#include "engine/op.h"

namespace rsd {

// y = conv2d(x, w).
RSD_DECLARE_KERNEL(conv2d_forward, (const Tensor& x, const Tensor& w, Tensor& y, int stride, int padding));
// dx = the gradient of conv2d with respect to x, from gy.
RSD_DECLARE_KERNEL(conv2d_backward_data, (const Tensor& gy, const Tensor& w, Tensor& dx, int stride, int padding));
// dw = the gradient of conv2d with respect to w, from x and gy.
RSD_DECLARE_KERNEL(conv2d_backward_filter, (const Tensor& x, const Tensor& gy, Tensor& dw, int stride, int padding));

// engine/onednn/conv2d.cpp: the same three on oneDNN (f32; float64 goes to the reference).
RSD_DECLARE_ONEDNN_KERNEL(conv2d_forward)
RSD_DECLARE_ONEDNN_KERNEL(conv2d_backward_data)
RSD_DECLARE_ONEDNN_KERNEL(conv2d_backward_filter)

}  // namespace rsd
