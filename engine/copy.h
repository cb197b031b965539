// Copies and fills below autograd: any dtype to any dtype, any device to any device.
#pragma once
#include "engine/tensor.h"

namespace rsd {

// dst = src converted to dst's dtype, across devices; shapes must have equal element counts.
void copy_convert(const Tensor& src, Tensor& dst);
// Every element of t set to value (converted to t's dtype).
void fill_(Tensor& t, double value);

namespace cpu {
double load_element(DType t, const void* base, int64_t i);
void store_element(DType t, void* base, int64_t i, double v);
}  // namespace cpu

}  // namespace rsd
