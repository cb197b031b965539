// CUDA side of engine/copy.h: transfers between host and device and dtype conversion on the GPU.
#pragma once
#include "engine/tensor.h"

namespace rsd::cuda {

void copy_convert(const Tensor& src, Tensor& dst);
void fill(Tensor& t, double value);
// dst (R, end - begin) = src (R, C) columns [begin, end), same dtype.
void copy_columns(const Tensor& src, int64_t begin, Tensor& dst);
// Element ranges of two tensors of one dtype on one device (engine/copy.h copy_range).
void copy_range(const Tensor& src, int64_t src_offset, Tensor& dst, int64_t dst_offset, int64_t count);

}  // namespace rsd::cuda
