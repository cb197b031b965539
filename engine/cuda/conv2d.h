// CUDA side of engine/ops/conv2d.h, on cuDNN's convolution API with NHWC descriptors.
// Shapes: x (N,H,W,C), w (K,R,S,C), y (N,P,Q,K); f32 (FMA math, no TF32) or bf16 (tensor cores,
// f32 accumulation). Each direction's algorithm is searched once per shape and cached.
#pragma once
#include "engine/tensor.h"

namespace rsd::cuda {

// y = conv2d(x, w).
void conv2d_forward(const Tensor& x, const Tensor& w, Tensor& y, int stride, int padding);
// dx = gradient of conv2d with respect to x, from gy (N,P,Q,K).
void conv2d_backward_data(const Tensor& gy, const Tensor& w, Tensor& dx, int stride, int padding);
// dw = gradient of conv2d with respect to w, from x and gy.
void conv2d_backward_filter(const Tensor& x, const Tensor& gy, Tensor& dw, int stride, int padding);

}  // namespace rsd::cuda
