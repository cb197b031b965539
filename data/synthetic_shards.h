// `rsd make-synthetic OUT`: shards of SYNTHETIC random data, for the loader benchmark and for
// trying the pipeline at scale without imagery. They are labelled everywhere: "synthetic": true in
// every shard header and in dataset.json, layout name "synthetic", ids "synthetic/000042", and
// `rsd info` says so. Band names follow the RS-BYOL pool's sensors: the first min(bands, 13) are
// S2 bands (B01..B08, B8A, B09..B12, values uniform DN in [0, 10000)), the rest S1 (VV, VH, values
// uniform in [-25, 0] dB), so 15 bands = 13 S2 + 2 S1. Every pixel is valid; class_index is
// uniform in [0, 10). Sample i is a pure function of (seed, i), whatever the thread count.
#pragma once
#include <cstdint>
#include <string>

#include "data/pack.h"
#include "data/sample.h"

namespace rsd::data {

struct SyntheticShardsConfig {
  std::string out;
  int64_t samples = 1000;
  int bands = 15;                  // 1 .. 15
  int size = 128;                  // height = width
  int64_t records_per_shard = 0;   // 0: about 1 GiB per shard
  uint64_t seed = 0;
  int threads = 1;
  bool progress = true;
};

constexpr int kSyntheticClasses = 10;

// Synthetic sample `index` (see above).
data::Sample synthetic_sample(int bands, int size, uint64_t seed, int64_t index);

PackResult make_synthetic_shards(const SyntheticShardsConfig& config);

}  // namespace rsd::data
