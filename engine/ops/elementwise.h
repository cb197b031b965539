// Element-wise ops: relu, gelu, exp, scale, add, and the in-place accumulation autograd uses.
#pragma once
#include "engine/tensor.h"

namespace rsd {

// y = max(x, 0). Backward: gx = gy where y > 0.
Tensor relu(const Tensor& x);
// y = x * Phi(x) = x / 2 * (1 + erf(x / sqrt(2))), the exact GELU (PyTorch's default, not the
// tanh approximation). Backward: gx = gy * (Phi(x) + x * phi(x)), phi the standard normal density.
Tensor gelu(const Tensor& x);
// y = exp(x) (a learnable temperature is stored as its log). Backward: gx = gy * y.
Tensor exp(const Tensor& x);
// y = s * x for a constant s (averaging losses, e.g. the two directions of a distributed InfoNCE).
// Backward: gx = s * gy.
Tensor scale(const Tensor& x, double s);
// y = a + b (same shape, dtype, device). Backward: ga = gb = gy.
Tensor add(const Tensor& a, const Tensor& b);
// y = relu(a + b) in one pass (a residual block's end). Backward: ga = gb = gy where y > 0.
Tensor add_relu(const Tensor& a, const Tensor& b);
// dst += src, in place, no autograd.
void accumulate_(Tensor& dst, const Tensor& src);

}  // namespace rsd
