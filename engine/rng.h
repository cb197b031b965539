// Reproducible random fills from Philox4x32-10 (kernels/philox.h). A fill is a pure function of
// (seed, offset, element index): the CPU and CUDA backends produce the same numbers, so a model
// initialized on either backend starts from the same weights. Generator hands out disjoint offset
// ranges so successive fills never reuse a stream.
#pragma once
#include <cstdint>

#include "engine/tensor.h"

namespace rsd {

void fill_uniform_(Tensor& t, uint64_t seed, uint64_t offset, double lo, double hi);
void fill_normal_(Tensor& t, uint64_t seed, uint64_t offset, double mean, double std);

class Generator {
 public:
  explicit Generator(uint64_t seed) : seed_(seed) {}
  void uniform_(Tensor& t, double lo, double hi);
  void normal_(Tensor& t, double mean, double std);
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }

 private:
  uint64_t take(int64_t numel);  // reserves ceil(numel / 4) Philox blocks
  uint64_t seed_;
  uint64_t offset_ = 0;
};

}  // namespace rsd
