// CUDA side of engine/rng.h.
#pragma once
#include <cstdint>

#include "engine/tensor.h"

namespace rsd::cuda {

void fill_uniform(Tensor& t, uint64_t seed, uint64_t offset, double lo, double hi);
void fill_normal(Tensor& t, uint64_t seed, uint64_t offset, double mean, double std);

}  // namespace rsd::cuda
