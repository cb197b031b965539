// The convolution of a frozen network with its batch norm folded in (models/folded_resnet.h):
// conv2d, bias, an optional residual add and an optional ReLU in one call, which the oneDNN
// backend runs as one primitive (the bias in the convolution, the add and the ReLU as post-ops)
// instead of four passes over the activations. Inference only: no gradient, and the CPU backends
// only (the GPU runs the unfolded network).
#pragma once
#include "engine/tensor.h"

namespace rsd {

// x: (N, H, W, C), w: (K, R, S, C), bias: (K), residual: undefined or (N, P, Q, K) as the output.
// Returns y (N, P, Q, K) = relu?(conv2d(x, w, stride, padding) + bias + residual). One dtype
// (f32 or f64), CPU tensors; an input that requires grad is an error while gradients are recorded.
Tensor conv2d_inference(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& residual, bool relu,
                        int stride, int padding);

}  // namespace rsd
