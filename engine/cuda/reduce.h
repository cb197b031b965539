// CUDA side of engine/ops/reduce.h.
#pragma once
#include "engine/tensor.h"

namespace rsd::cuda {

// y[0] = scale * sum(x), accumulated in f32 in a fixed order.
void scaled_sum(const Tensor& x, Tensor& y, double scale);
// gx[i] = g[0] * scale.
void broadcast_scalar(const Tensor& g, Tensor& gx, double scale);

}  // namespace rsd::cuda
