// Philox4x32-10 counter-based random numbers (Salmon et al., "Parallel random numbers: as easy as
// 1, 2, 3", SC 2011). The same header is compiled by the host compiler and by nvcc, so the CPU
// backend and the CUDA kernels draw identical 32-bit integers for the same (seed, counter): element i
// of a tensor filled with seed s and offset o uses counter (o + i / 4) and lane i % 4, whichever
// backend fills it. Plain C++ with no engine types.
#pragma once
#include <cstdint>
#include <cmath>

#if defined(__CUDACC__)
#define RSD_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define RSD_HOST_DEVICE inline
#endif

namespace rsd::kernels {

struct Philox4 {
  uint32_t v[4];
};

RSD_HOST_DEVICE uint32_t philox_mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
  const uint64_t p = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

// One block of four 32-bit outputs for a 128-bit counter and a 64-bit key; ten rounds.
RSD_HOST_DEVICE Philox4 philox4x32_10(Philox4 ctr, uint32_t key0, uint32_t key1) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    const uint32_t lo0 = philox_mulhilo(kM0, ctr.v[0], &hi0);
    const uint32_t lo1 = philox_mulhilo(kM1, ctr.v[2], &hi1);
    ctr = Philox4{{hi1 ^ ctr.v[1] ^ key0, lo1, hi0 ^ ctr.v[3] ^ key1, lo0}};
    key0 += kW0;
    key1 += kW1;
  }
  return ctr;
}

// The block of four draws that holds elements [4 * block, 4 * block + 4) of a stream.
RSD_HOST_DEVICE Philox4 philox_block(uint64_t seed, uint64_t block) {
  const Philox4 ctr{{static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), 0u, 0u}};
  return philox4x32_10(ctr, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// 24 random bits mapped to [0, 1): exact in float, identical on host and device.
RSD_HOST_DEVICE float philox_uniform01(uint32_t bits) {
  return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f);
}

// Box-Muller on a pair of draws; computed in double so host and device round to the same float
// in all but rare ties (their libm may differ by an ulp in double, far below float precision).
RSD_HOST_DEVICE void philox_box_muller(uint32_t a, uint32_t b, float* n0, float* n1) {
  const double u1 = (static_cast<double>(a) + 1.0) * (1.0 / 4294967296.0);  // (0, 1]
  const double u2 = static_cast<double>(b) * (1.0 / 4294967296.0);          // [0, 1)
  const double r = sqrt(-2.0 * log(u1));
  const double t = 6.283185307179586 * u2;
  *n0 = static_cast<float>(r * cos(t));
  *n1 = static_cast<float>(r * sin(t));
}

// Element i of a uniform [lo, hi) stream.
RSD_HOST_DEVICE float philox_uniform_at(uint64_t seed, uint64_t offset, uint64_t i, float lo, float hi) {
  const Philox4 b = philox_block(seed, offset + i / 4);
  return lo + (hi - lo) * philox_uniform01(b.v[i % 4]);
}

// Element i of a normal(mean, std) stream: lanes (0,1) and (2,3) of a block form Box-Muller pairs.
RSD_HOST_DEVICE float philox_normal_at(uint64_t seed, uint64_t offset, uint64_t i, float mean, float std) {
  const Philox4 b = philox_block(seed, offset + i / 4);
  const unsigned pair = static_cast<unsigned>(i % 4) / 2;
  float n0, n1;
  philox_box_muller(b.v[2 * pair], b.v[2 * pair + 1], &n0, &n1);
  return mean + std * ((i % 2 == 0) ? n0 : n1);
}

}  // namespace rsd::kernels
