// Element-wise ops: relu, exp, add, and the in-place accumulation autograd uses.
#pragma once
#include "engine/tensor.h"

namespace rsd {

// y = max(x, 0). Backward: gx = gy where y > 0.
Tensor relu(const Tensor& x);
// y = exp(x) (a learnable temperature is stored as its log). Backward: gx = gy * y.
Tensor exp(const Tensor& x);
// y = a + b (same shape, dtype, device). Backward: ga = gb = gy.
Tensor add(const Tensor& a, const Tensor& b);
// dst += src, in place, no autograd.
void accumulate_(Tensor& dst, const Tensor& src);

}  // namespace rsd
