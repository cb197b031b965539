// CUDA side of engine/ops/linear.h: GEMMs on cuBLAS, the bias gradient by a row-sum kernel.
#pragma once
#include "engine/tensor.h"

namespace rsd::cuda {

// y (N,out) = x (N,in) w^T (out,in), plus b (out) when b is defined.
void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y);
// dx (N,in) = gy (N,out) w (out,in).
void linear_backward_input(const Tensor& gy, const Tensor& w, Tensor& dx);
// dw (out,in) = gy^T (out,N) x (N,in).
void linear_backward_weight(const Tensor& gy, const Tensor& x, Tensor& dw);
// db (out) = sum over rows of gy (N,out).
void linear_backward_bias(const Tensor& gy, Tensor& db);

}  // namespace rsd::cuda
