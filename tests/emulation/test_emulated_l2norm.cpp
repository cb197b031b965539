// Row-wise L2 normalization (kernels/l2norm.cu) on the CPU emulator (tests/emulation/simt.h)
// against the engine's CPU reference in float64 (tests/emulation/cpu_oracle.h), f32 and bf16: the
// warp-per-row path (D < 1024: D = 1, 3, 100, 1000) and the block-per-row path (D = 1024, 1500),
// row counts that leave a block's 8 warps partly idle, a zero row and a row whose norm is below
// eps (y = x / eps; the backward's gy / eps branch), D = 0; the row loop's second pass over a grid
// capped at 65536 blocks (525289 rows, forward, f32); results independent of the emulator's
// thread order (the block path's shared-memory sums).
//
// Bounds (test_emulated_checks.h): norms relative kF32Tol; y and gx kF32Tol times the magnitude
// of their terms, plus one bf16 rounding for bf16 outputs.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/l2norm.cuh"
#include "tests/emulation/cpu_oracle.h"
#include "tests/emulation/device_array.h"
#include "tests/emulation/test_emulated_checks.h"

using namespace rsd;
using namespace rsd::test;

namespace {

// The launchers take eps as a float: the oracle uses that value.
const double kEps = static_cast<double>(1e-12f);

// backward: also run and check the backward.
template <typename T>
void check_l2norm(int64_t R, int64_t D, uint64_t seed, bool backward = true) {
  const bool f32 = std::is_same_v<T, float>;
  CAPTURE(R);
  CAPTURE(D);
  CAPTURE(f32);
  std::vector<double> xv = normal_values(R * D, seed);
  // Row 0 is zero; row 1 (when there is one) has a norm of about 1e-13 * sqrt(D), below eps for D < 100.
  std::fill(xv.begin(), xv.begin() + D, 0.0);
  if (R > 1 && D < 100)
    for (int64_t j = 0; j < D; ++j) xv[static_cast<size_t>(D + j)] *= 1e-13;
  const std::vector<double> x = rounded<T>(xv);

  // Forward: norms (R), y (R, D); y = x / max(norm, eps) is accurate relative to its own size.
  const oracle::L2Normalize want = oracle::l2_normalize_forward(x, R, D, kEps);
  std::vector<double> y_scale(want.y.size());
  for (size_t i = 0; i < y_scale.size(); ++i) y_scale[i] = std::fabs(want.y[i]);
  DeviceArray<T> dx(x), dy(R * D);
  DeviceArray<float> dnorms(R);
  kernels::l2_normalize_forward<T>(dx.get(), dy.get(), dnorms.get(), R, D, static_cast<float>(kEps), nullptr);
  check_within("norms", dnorms.doubles(), want.norms, want.norms, 0.0, kF32Tol);
  check_within("y", dy.doubles(), want.y, y_scale, output_rounding<T>(), kF32Tol);
  if (!backward) return;

  // Backward from the reference's y (rounded to T) and norms (rounded to f32), as given inputs.
  const std::vector<double> yin = rounded<T>(want.y), norm_in = rounded<float>(want.norms);
  const std::vector<double> gy = rounded<T>(normal_values(R * D, seed + 1));
  const std::vector<double> gx = oracle::l2_normalize_backward(gy, yin, norm_in, R, D, kEps);
  // gx = (gy - y <gy, y>) / norm term by term above eps; gy / eps, one rounding, below.
  std::vector<double> gx_scale(x.size());
  for (int64_t r = 0; r < R; ++r) {
    const double n = norm_in[static_cast<size_t>(r)];
    const auto row = static_cast<size_t>(r * D);
    double dot_scale = 0.0;
    for (size_t j = 0; j < static_cast<size_t>(D); ++j) dot_scale += std::fabs(gy[row + j] * yin[row + j]);
    for (size_t i = row; i < row + static_cast<size_t>(D); ++i) {
      gx_scale[i] = n > kEps ? (std::fabs(gy[i]) + std::fabs(yin[i]) * dot_scale) / n : std::fabs(gx[i]);
    }
  }
  DeviceArray<T> dgy(gy), dyin(yin), dgx(R * D);
  DeviceArray<float> dnorm_in(norm_in);
  kernels::l2_normalize_backward<T>(dgy.get(), dyin.get(), dnorm_in.get(), dgx.get(), R, D, static_cast<float>(kEps),
                                    nullptr);
  check_within("gx", dgx.doubles(), gx, gx_scale, output_rounding<T>(), kF32Tol);
}

}  // namespace

TEST_SUITE("emulated") {
  TEST_CASE("l2norm kernels on the emulator: forward and backward (f32, bf16) match float64") {
    // D = 0: the norms are 0 and nothing else is written.
    const std::vector<std::pair<int64_t, int64_t>> sizes{{1, 1},    {70, 3},   {300, 100}, {37, 1000},
                                                         {9, 1024}, {5, 1500}, {2, 2},     {3, 0}};
    uint64_t seed = 3000;
    for (const auto& [R, D] : sizes) {
      check_l2norm<float>(R, D, seed);
      check_l2norm<__nv_bfloat16>(R, D, seed);
      seed += 2;
    }
  }

  TEST_CASE("l2norm kernels on the emulator: the row loop strides over the grid (65536 blocks of 8 rows)") {
    // 65536 * 8 + 1001 rows of one warp each: the grid is capped at 65536 blocks, so the first
    // 1001 warps take a second row. The forward in f32 only (the backward's row loop is the same
    // and its 17 million threads take seconds; the loop does not depend on T).
    check_l2norm<float>(int64_t{65536} * 8 + 1001, 3, 3100, false);
  }

  TEST_CASE("l2norm kernels on the emulator: results do not depend on thread order") {
    // Rows of 1500: the block-per-row path, whose sums go through shared memory.
    const int64_t R = 5, D = 1500;
    const std::vector<double> x = rounded<float>(normal_values(R * D, 3200)),
                              gy = rounded<float>(normal_values(R * D, 3201));
    check_order_independent("l2norm forward, backward", [&] {
      DeviceArray<float> dx(x), dgy(gy), y(R * D), gx(R * D), norms(R);
      kernels::l2_normalize_forward<float>(dx.get(), y.get(), norms.get(), R, D, 1e-12f, nullptr);
      kernels::l2_normalize_backward<float>(dgy.get(), y.get(), norms.get(), gx.get(), R, D, 1e-12f, nullptr);
      std::vector<double> out = y.doubles();
      for (const std::vector<double>& v : {gx.doubles(), norms.doubles()}) out.insert(out.end(), v.begin(), v.end());
      return out;
    });
  }
}
