// Type conversion (kernels/cast.cu) on the CPU emulator (tests/emulation/simt.h): every one of
// the 36 (source, destination) pairs among float, double, bf16, half, int32 and uint8 against
// conversions written here from the header's rules: to a floating type, one rounding of the
// exact source value to nearest even (bf16: 8 significant bits, half: 11 bits and at most 65504);
// to int32, truncation toward zero; to uint8, the low 8 bits of that int32. The values include
// rounding ties of bf16 and half (1 + 2^-8, 1 + 3 * 2^-8, 2049, 2051, ...), doubles that become
// such ties when first rounded to f32 (double -> bf16 / half must round once), -0, negative
// values for uint8 and fractions of every size. Conversions are exact operations: outputs must
// match bit for bit. Sizes: 1000 elements (4 blocks, a partial last one) for every pair, and one
// pair over more than 65536 blocks of 256 threads (the grid-stride loop's second pass).
//
// The engine's CPU conversion (engine/copy.cpp) is not the oracle here: it takes double to bf16
// and half through f32 (two roundings) and negative values to uint8 by a direct C cast
// (undefined), while the kernel rounds once and keeps the low 8 bits of the int32. So the
// conversions below are written from the header's rules, independently of both.
#include <cuda_fp16.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "kernels/cast.cuh"
#include "tests/emulation/device_array.h"
#include "tests/emulation/test_emulated_checks.h"

using namespace rsd;
using namespace rsd::test;

namespace {

// v rounded to nearest even with `bits` significant bits, exponents below `emin` sharing emin's
// spacing (subnormals), and values beyond max_finite going to infinity.
double round_significand(double v, int bits, int emin, double max_finite) {
  if (v == 0.0 || !std::isfinite(v)) return v;
  int e = 0;
  std::frexp(v, &e);  // |v| in [2^(e-1), 2^e)
  const double spacing = std::ldexp(1.0, std::max(e - 1, emin) - (bits - 1));
  const double r = std::nearbyint(v / spacing) * spacing;  // the default rounding mode: ties to even
  return std::fabs(r) > max_finite ? std::copysign(INFINITY, v) : r;
}

// The value a T holds after converting v to it.
template <typename T>
double convert(double v) {
  if constexpr (std::is_same_v<T, double>) {
    return v;
  } else if constexpr (std::is_same_v<T, float>) {
    return round_significand(v, 24, -126, std::ldexp(2.0 - std::ldexp(1.0, -23), 127));
  } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    return round_significand(v, 8, -126, std::ldexp(2.0 - std::ldexp(1.0, -7), 127));
  } else if constexpr (std::is_same_v<T, __half>) {
    return round_significand(v, 11, -14, 65504.0);
  } else if constexpr (std::is_same_v<T, int32_t>) {
    return static_cast<double>(static_cast<int32_t>(std::trunc(v)));
  } else {
    static_assert(std::is_same_v<T, uint8_t>);
    return static_cast<double>(static_cast<uint8_t>(static_cast<int32_t>(std::trunc(v))));
  }
}

// The source values: ties and special cases, then fractions spread over several magnitudes, all
// within int32 and half range, converted to Tin (the value the source array holds). Past 4099
// elements (a prime: a read one grid stride off shows) the first 4099 repeat.
template <typename Tin>
std::vector<double> source_values(int64_t count, uint64_t seed) {
  const int64_t n = std::min<int64_t>(count, 4099);
  const double b = std::ldexp(1.0, -8), h = std::ldexp(1.0, -11), f = std::ldexp(1.0, -24), d = std::ldexp(1.0, -30);
  // Ties of bf16 (1 + b, 1 + 3b, -(1 + 5b), 257, 259), of half (1 + h, 1 + 3h, 2049, 2051; 65519 is just below the
  // one that overflows) and of f32 (1 + f, 1 + 3f); 1 + b + d and 1 + h + d are ties only once rounded to f32.
  std::vector<double> v{0.0, -0.0, 1.0, -1.0, 2.75, -3.7, 0.5, -0.5, 255.0, 256.0, 300.5, -300.5,
                        1 + b, 1 + 3 * b, -(1 + 5 * b), 257.0, 259.0, 1 + h, 1 + 3 * h, 2049.0, 2051.0,
                        65504.0, -65504.0, 65519.0, 1 + f, 1 + 3 * f, 1 + b + d, 1 + h + d,
                        1e-3, 1e-5, 1.0 / 3.0, 3.14159265358979};
  const std::vector<double> z = normal_values(n, seed), u = uniform_values(n, seed + 1, -6.0, 6.0);
  for (int64_t i = static_cast<int64_t>(v.size()); i < n; ++i) {
    const auto k = static_cast<size_t>(i);
    v.push_back(z[k] * std::pow(10.0, std::floor(u[k])));  // magnitudes from 1e-6 to 1e5
    if (std::fabs(v.back()) > 60000.0) v.back() = std::fmod(v.back(), 60000.0);
  }
  v.resize(static_cast<size_t>(n));
  for (double& x : v) x = convert<Tin>(x);
  v.resize(static_cast<size_t>(count));
  for (int64_t i = n; i < count; ++i) v[static_cast<size_t>(i)] = v[static_cast<size_t>(i % n)];
  return v;
}

template <typename T>
const char* type_name() {
  if constexpr (std::is_same_v<T, float>) return "float";
  if constexpr (std::is_same_v<T, double>) return "double";
  if constexpr (std::is_same_v<T, __nv_bfloat16>) return "bf16";
  if constexpr (std::is_same_v<T, __half>) return "half";
  if constexpr (std::is_same_v<T, int32_t>) return "int32";
  return "uint8";
}

template <typename Tin, typename Tout>
void check_cast(int64_t n, uint64_t seed) {
  const std::vector<double> x = source_values<Tin>(n, seed);
  std::vector<double> want(x.size());
  for (size_t i = 0; i < x.size(); ++i) want[i] = convert<Tout>(x[i]);
  DeviceArray<Tin> dx(x);
  DeviceArray<Tout> y(n);
  kernels::cast<Tin, Tout>(dx.get(), y.get(), n, nullptr);
  CAPTURE(n);
  INFO("cast " << type_name<Tin>() << " -> " << type_name<Tout>());
  check_exact("cast", y.doubles(), want);
}

template <typename Tin>
void check_casts_from(int64_t n, uint64_t seed) {
  check_cast<Tin, float>(n, seed);
  check_cast<Tin, double>(n, seed);
  check_cast<Tin, __nv_bfloat16>(n, seed);
  check_cast<Tin, __half>(n, seed);
  check_cast<Tin, int32_t>(n, seed);
  check_cast<Tin, uint8_t>(n, seed);
}

}  // namespace

TEST_SUITE("emulated") {
  TEST_CASE("cast kernels on the emulator: all 36 type pairs convert exactly as specified") {
    check_casts_from<float>(1000, 7000);
    check_casts_from<double>(1000, 7010);
    check_casts_from<__nv_bfloat16>(1000, 7020);
    check_casts_from<__half>(1000, 7030);
    check_casts_from<int32_t>(1000, 7040);
    check_casts_from<uint8_t>(1000, 7050);
  }

  TEST_CASE("cast kernels on the emulator: the grid-stride loop (more than 65536 blocks of 256 elements)") {
    check_cast<float, __nv_bfloat16>(65536 * 256 + 1001, 7060);
  }
}
