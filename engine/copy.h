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
// dst[dst_offset, dst_offset + count) = src[src_offset, src_offset + count), flat element ranges of
// two tensors of the same dtype on the same device (gradient buckets pack parameters' gradients
// into one buffer). On CUDA one cudaMemcpyAsync on the compute stream.
void copy_range(const Tensor& src, int64_t src_offset, Tensor& dst, int64_t dst_offset, int64_t count);

namespace cpu {
double load_element(DType t, const void* base, int64_t i);
void store_element(DType t, void* base, int64_t i, double v);
}  // namespace cpu

}  // namespace rsd
