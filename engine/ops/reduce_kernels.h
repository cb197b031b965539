// The kernels of the full reductions (engine/ops/reduce.h), declared once for every backend:
// engine/cpu/reduce.cpp (the reference, sums in double) and engine/cuda/reduce.cpp (f32, in a
// fixed order).
#pragma once
#include "engine/op.h"

namespace rsd {

// y[0] = scale * sum(x).
RSD_DECLARE_KERNEL(scaled_sum, (const Tensor& x, Tensor& y, double scale));
// gx[i] = g[0] * scale.
RSD_DECLARE_KERNEL(broadcast_scalar, (const Tensor& g, Tensor& gx, double scale));

}  // namespace rsd
