// CUDA side of engine/ops/pool.h. Max pooling windows are kernel x kernel.
#pragma once
#include "engine/tensor.h"

namespace rsd::cuda {

// x: (N, H, W, C); y, argmax (i32, h*W + w within the image): (N, P, Q, C).
void max_pool2d_forward(const Tensor& x, Tensor& y, Tensor& argmax, int kernel, int stride, int padding);
// gy, argmax: (N, P, Q, C); gx: (N, H, W, C), every element written.
void max_pool2d_backward(const Tensor& gy, const Tensor& argmax, Tensor& gx, int kernel, int stride, int padding);
// x: (N, H, W, C) -> y: (N, C).
void global_avg_pool_forward(const Tensor& x, Tensor& y);
// gy: (N, C) -> gx: (N, H, W, C).
void global_avg_pool_backward(const Tensor& gy, Tensor& gx);

}  // namespace rsd::cuda
