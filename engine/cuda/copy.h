// CUDA side of engine/copy.h: transfers between host and device and dtype conversion on the GPU.
#pragma once
#include "engine/tensor.h"

namespace rsd::cuda {

void copy_convert(const Tensor& src, Tensor& dst);
void fill(Tensor& t, double value);
// dst (R, end - begin) = src (R, C) columns [begin, end), same dtype.
void copy_columns(const Tensor& src, int64_t begin, Tensor& dst);

}  // namespace rsd::cuda
