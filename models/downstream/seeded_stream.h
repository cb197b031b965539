// SplitMix64: a small seeded stream of 64-bit numbers for the probes' shuffles and samples. It is
// written out (not std::shuffle or a std:: distribution) because those differ between standard
// libraries, and probe splits must be the same everywhere for a given seed.
#pragma once
#include <cstdint>

namespace rsd::downstream {

class SeededStream {
 public:
  explicit SeededStream(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // In [0, n), n > 0 (the modulo bias is below 2^-40 for the sizes probes see).
  uint64_t below(uint64_t n) { return next() % n; }

 private:
  uint64_t state_;
};

}  // namespace rsd::downstream
