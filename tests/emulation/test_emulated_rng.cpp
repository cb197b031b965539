// Random fills (kernels/rng.cu) on the CPU emulator (tests/emulation/simt.h): element i of a
// fill with (seed, offset) must be bit for bit what the CPU backend stores (engine/rng.cpp draws
// kernels::philox_uniform_at / philox_normal_at(seed, offset, i, float(lo), float(hi)) in f32 and
// rounds it to the tensor's type), f32 and bf16. The seeds use both 32-bit key words, the offsets
// the counter's high word; n covers partial Philox blocks (i % 4), several blocks of threads
// and the grid-stride loop (more than 65536 blocks of 256 threads; the uniform fill in f32).
//
// Here the kernels run on the host, so the normal fill's Box-Muller uses the same libm on both
// sides; whether the device's log / sin / cos differ from the host's in the last bit of a double
// (see kernels/philox.h) is for the GPU suite.
#include <doctest/doctest.h>

#include <cstdint>
#include <type_traits>
#include <vector>

#include "kernels/philox.h"
#include "kernels/rng.cuh"
#include "tests/emulation/device_array.h"
#include "tests/emulation/test_emulated_checks.h"

using namespace rsd;
using namespace rsd::test;

namespace {

// normal: also the normal fill with (mean, std).
template <typename T>
void check_fills(int64_t n, uint64_t seed, uint64_t offset, float lo, float hi, bool normal, float mean, float std) {
  const bool f32 = std::is_same_v<T, float>;
  CAPTURE(n);
  CAPTURE(seed);
  CAPTURE(offset);
  CAPTURE(f32);
  std::vector<double> want(static_cast<size_t>(n));
  DeviceArray<T> y(n);
  kernels::fill_uniform<T>(y.get(), n, seed, offset, lo, hi, nullptr);
  for (int64_t i = 0; i < n; ++i)
    want[static_cast<size_t>(i)] =
        to_double(to_storage<T>(kernels::philox_uniform_at(seed, offset, static_cast<uint64_t>(i), lo, hi)));
  check_exact("fill_uniform", y.doubles(), want);
  if (!normal) return;

  DeviceArray<T> z(n);
  kernels::fill_normal<T>(z.get(), n, seed, offset, mean, std, nullptr);
  for (int64_t i = 0; i < n; ++i)
    want[static_cast<size_t>(i)] =
        to_double(to_storage<T>(kernels::philox_normal_at(seed, offset, static_cast<uint64_t>(i), mean, std)));
  check_exact("fill_normal", z.doubles(), want);
}

}  // namespace

TEST_SUITE("emulated") {
  TEST_CASE("rng kernels on the emulator: uniform and normal fills (f32, bf16) equal the CPU generator's") {
    const uint64_t seeds[] = {0, 42, 0x9e3779b97f4a7c15ull};
    const uint64_t offsets[] = {0, 3, (uint64_t{1} << 32) + 12345};
    for (const int64_t n : {int64_t{1}, int64_t{6}, int64_t{1001}, int64_t{70001}}) {
      for (const uint64_t seed : seeds)
        for (const uint64_t offset : offsets) {
          check_fills<float>(n, seed, offset, -0.3f, 2.5f, true, 0.5f, 0.02f);
          check_fills<__nv_bfloat16>(n, seed, offset, -0.3f, 2.5f, true, 0.5f, 0.02f);
        }
      check_fills<float>(n, 7, 0, 0.0f, 1.0f, true, 0.0f, 1.0f);
    }
  }

  TEST_CASE("rng kernels on the emulator: the grid-stride loop (more than 65536 blocks of 256 threads)") {
    // The uniform fill only: the normal kernel's loop is the same, and its Box-Muller on 17 million
    // elements would triple the time.
    check_fills<float>(65536 * 256 + 1001, 0x0123456789abcdefull, 77, -1.0f, 1.0f, false, 0.0f, 0.0f);
  }
}
