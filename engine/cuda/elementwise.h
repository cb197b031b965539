// CUDA side of engine/ops/elementwise.h.
#pragma once
#include "engine/tensor.h"

namespace rsd::cuda {

void relu_forward(const Tensor& x, Tensor& y);
void relu_backward(const Tensor& y, const Tensor& gy, Tensor& gx);
void exp_forward(const Tensor& x, Tensor& y);
void exp_backward(const Tensor& y, const Tensor& gy, Tensor& gx);
void scale(const Tensor& x, double s, Tensor& y);
void add(const Tensor& a, const Tensor& b, Tensor& y);
void accumulate(Tensor& dst, const Tensor& src);

}  // namespace rsd::cuda
