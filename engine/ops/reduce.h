// Full reductions to a one-element tensor (shape {1}) of the input's dtype.
#pragma once
#include "engine/tensor.h"

namespace rsd {

// sum of every element. Backward: gx = gy broadcast.
Tensor sum(const Tensor& x);
// mean of every element. Backward: gx = gy / numel broadcast.
Tensor mean(const Tensor& x);

}  // namespace rsd
