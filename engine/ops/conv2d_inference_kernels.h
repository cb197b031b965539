// The kernel of conv2d_inference (engine/ops/conv2d_inference.h): engine/cpu/conv2d_inference.cpp
// (the reference: conv2d's reference kernel, then bias, residual and ReLU in one pass; it ignores
// the cache) and engine/onednn/conv2d_inference.cpp (one convolution primitive with bias and
// post-ops, Winograd where a cache keeps the transformed weights). Checked by the op.
#pragma once
#include "engine/op.h"
#include "engine/ops/conv2d_inference.h"

namespace rsd {

// y (N, P, Q, K) = relu?(conv2d(x, w) + bias + residual); residual and cache may be null.
RSD_DECLARE_CPU_KERNEL(conv2d_inference_forward, (const Tensor& x, const Tensor& w, const Tensor& bias,
                                                  const Tensor* residual, Tensor& y, bool relu, int stride,
                                                  int padding, ConvWeightCache* cache))

}  // namespace rsd
