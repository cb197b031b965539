// What the emulated-kernel tests (tests/emulation/test_emulated_*.cpp) share: seeded inputs, and
// element-by-element comparison with a float64 reference within a stated bound, reporting the
// worst element (its index, value and reference); and the check that a kernel's results do not
// depend on the order the emulator runs its threads in.
//
// The bound of element i is rel * |want_i| + abs * scale_i, where scale_i is the magnitude of the
// terms that produced it (sum |x| for a sum, |a| + |b| for a - b, ...): an f32 computation is
// accurate relative to its terms, not to a result that cancels. Inputs are rounded to the
// storage type before the reference sees them, so only the kernel's own arithmetic and the
// rounding of its outputs count.
#pragma once
#include <cuda_bf16.h>
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "tests/emulation/simt.h"

namespace rsd::test {

// f32 arithmetic on exact inputs: each rounding is at most 2^-24 = 6e-8 relative to the terms; the
// kernels' sums chain at most a few thousand of them (and random-sign rounding errors grow as
// the square root of the count), so 1e-5 of the terms' magnitude holds with a wide margin while
// still catching a lost or doubled term, a wrong index or a bf16 intermediate.
constexpr double kF32Tol = 1e-5;
// One rounding of an output to bf16 (8 significant bits) is at most 2^-8 = 3.9e-3 relative, also
// after a first rounding to f32 (2^-8 + 2^-24).
constexpr double kBf16Rounding = 4e-3;

// The relative bound an output of storage type T gets on top of kF32Tol * scale.
template <typename T>
constexpr double output_rounding() {
  return std::is_same_v<T, __nv_bfloat16> ? kBf16Rounding : 0.0;
}

inline std::vector<double> normal_values(int64_t count, uint64_t seed, double mean = 0.0, double std = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> dist(mean, std);
  std::vector<double> v(static_cast<size_t>(count));
  for (double& x : v) x = dist(rng);
  return v;
}

inline std::vector<double> uniform_values(int64_t count, uint64_t seed, double lo, double hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(static_cast<size_t>(count));
  for (double& x : v) x = dist(rng);
  return v;
}

// Every |got_i - want_i| <= rel * |want_i| + abs * scale_i; a non-finite got fails unless want is
// the same non-finite value. Reports the worst element.
inline void check_within(const char* what, const std::vector<double>& got, const std::vector<double>& want,
                         const std::vector<double>& scale, double rel, double abs) {
  REQUIRE(got.size() == want.size());
  REQUIRE(scale.size() == want.size());
  double worst = 0.0;
  size_t at = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    double ratio;
    if (!std::isfinite(want[i]) || !std::isfinite(got[i])) {
      const bool same = (std::isnan(want[i]) && std::isnan(got[i])) || got[i] == want[i];
      ratio = same ? 0.0 : INFINITY;
    } else {
      const double bound = rel * std::fabs(want[i]) + abs * scale[i];
      const double err = std::fabs(got[i] - want[i]);
      ratio = err == 0.0 ? 0.0 : (bound > 0.0 ? err / bound : INFINITY);
    }
    if (ratio > worst) {
      worst = ratio;
      at = i;
    }
  }
  INFO(std::string(what) << ": worst element " << at << " of " << want.size() << ": got "
                         << (want.empty() ? 0.0 : got[at]) << ", want " << (want.empty() ? 0.0 : want[at])
                         << ", error / bound " << worst);
  CHECK(worst <= 1.0);
}

// The same with one scale for every element.
inline void check_within(const char* what, const std::vector<double>& got, const std::vector<double>& want,
                         double scale, double rel, double abs) {
  check_within(what, got, want, std::vector<double>(want.size(), scale), rel, abs);
}

// Bit-for-bit equal values (NaN equals NaN), for operations that are exact.
inline void check_exact(const char* what, const std::vector<double>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const bool same = (std::isnan(want[i]) && std::isnan(got[i])) ||
                      (got[i] == want[i] && std::signbit(got[i]) == std::signbit(want[i]));
    if (!same && bad++ == 0) first = i;
  }
  INFO(std::string(what) << ": " << bad << " of " << want.size() << " elements differ; first at " << first << ": got "
                         << (bad > 0 ? got[first] : 0.0) << ", want " << (bad > 0 ? want[first] : 0.0));
  CHECK(bad == 0);
}

// Runs `run` (launches returning their outputs as doubles) in the emulator's default order and
// in orders that expose a missing barrier (simt.h): threads reversed with one warp running ahead
// to its next __syncthreads(), one warp ahead in launch order, threads shuffled. The results must
// be bitwise the same: no thread reads shared memory before the barrier that makes it valid.
template <typename Run>
void check_order_independent(const char* what, Run run) {
  struct Restore {
    emu::Options saved = emu::options();
    ~Restore() { emu::options() = saved; }
  } restore;
  const std::vector<double> first = run();
  const struct {
    emu::Order order;
    emu::Schedule schedule;
  } variants[] = {{emu::Order::reverse, emu::Schedule::warp_ahead},
                  {emu::Order::forward, emu::Schedule::warp_ahead},
                  {emu::Order::shuffled, emu::Schedule::lockstep}};
  for (const auto& v : variants) {
    emu::options() = restore.saved;
    emu::options().order = v.order;
    emu::options().schedule = v.schedule;
    CAPTURE(static_cast<int>(v.order));
    CAPTURE(static_cast<int>(v.schedule));
    check_exact(what, run(), first);
  }
}

}  // namespace rsd::test
