// Copies and fills below autograd: any dtype to any dtype, any device to any device.
#pragma once
#include "engine/tensor.h"

namespace rsd {

// dst = src converted to dst's dtype, across devices; shapes must have equal element counts.
void copy_convert(const Tensor& src, Tensor& dst);
// Every element of t set to value (converted to t's dtype).
void fill_(Tensor& t, double value);
// Columns [begin, end) of a row-major matrix: x (R, C) -> a new (R, end - begin) tensor of x's dtype
// on x's device (the loader packs a sample's views side by side; this separates them). One strided
// copy (cudaMemcpy2DAsync on the compute stream on CUDA).
Tensor copy_columns(const Tensor& x, int64_t begin, int64_t end);

namespace cpu {
double load_element(DType t, const void* base, int64_t i);
void store_element(DType t, void* base, int64_t i, double v);
}  // namespace cpu

}  // namespace rsd
