// Argument checks shared by the ops. Each failure names the op and describes the tensors
// ("conv2d: x f32[2,8,8,3]@cpu and w f32[4,3,3,5]@cpu differ in channels (3 vs 5)").
#pragma once
#include "engine/tensor.h"

namespace rsd::check {

void defined(const char* op, const char* name, const Tensor& t);
void same_device(const char* op, const Tensor& a, const Tensor& b);
void same_dtype(const char* op, const Tensor& a, const Tensor& b);
void same_shape(const char* op, const Tensor& a, const Tensor& b);
void floating(const char* op, const char* name, const Tensor& t);
void ndim(const char* op, const char* name, const Tensor& t, int expected);
void dtype_is(const char* op, const char* name, const Tensor& t, DType expected);
// t's dtype is one its device's backend computes in: f32 or f64 on the CPU, f32 or bf16 on CUDA.
void computable(const char* op, const char* name, const Tensor& t);

}  // namespace rsd::check
