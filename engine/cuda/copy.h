// CUDA side of engine/copy.h: transfers between host and device and dtype conversion on the GPU.
#pragma once
#include "engine/tensor.h"

namespace rsd::cuda {

void copy_convert(const Tensor& src, Tensor& dst);
void fill(Tensor& t, double value);

}  // namespace rsd::cuda
