// Fully connected layer, weights laid out (out, in) like PyTorch's nn.Linear.
#pragma once
#include "engine/tensor.h"

namespace rsd {

// x: (N, in), w: (out, in), b: (out) or undefined (no bias). Returns y: (N, out) = x w^T + b.
// Backward: dx = gy w, dw = gy^T x, db = column sums of gy.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b = Tensor());

}  // namespace rsd
