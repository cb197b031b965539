// A synthetic toy task for the CPU training demo and the training test: each image holds one bar
// (horizontal, vertical, diagonal or anti-diagonal: the class) at a random place, on noise, in
// every band with a per-band gain. Labelled SYNTHETIC wherever it is used; real Sentinel data
// comes with the data pipeline.
#pragma once
#include <cstdint>

#include "engine/tensor.h"

namespace rsd::data {

struct BarsBatch {
  Tensor images;  // (N, size, size, bands) f32, NHWC
  Tensor labels;  // (N) i32 in [0, 4)
};

constexpr int kBarsClasses = 4;

// Batch `index` of the stream for `seed`: a pure function of its arguments.
BarsBatch synthetic_bars(int64_t batch_size, int size, int bands, uint64_t seed, uint64_t index,
                         Device device = Device::cpu());

}  // namespace rsd::data
