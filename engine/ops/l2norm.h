// Row-wise L2 normalization (the projections of BYOL's loss and of InfoNCE).
#pragma once
#include "engine/tensor.h"

namespace rsd {

// x: (R, D) -> y: (R, D), y = x / max(|x_r|, eps) per row. Backward: where |x_r| > eps,
// gx = (gy - y <gy, y>) / |x_r|; otherwise (a zero or tiny row) gx = gy / eps.
Tensor l2_normalize(const Tensor& x, double eps = 1e-12);

}  // namespace rsd
