// The deterministic reductions of kernels/reduce.cu on the CPU emulator (tests/emulation/simt.h)
// against the engine's CPU reference in float64 (tests/emulation/cpu_oracle.h: the scaled sum,
// linear's bias gradient), f32 and bf16:
//   reduce_sum: n = 0 (writes 0), sizes around the 256-thread block, one partial pass and more
//     than one (n > 1024 blocks x 256 threads x 4 loads: the grid-stride loop runs twice);
//   sum_rows: rows = 0 (writes zeros), column tails of the 32-column tiles, several slabs with a
//     shorter last one, slabs of more than 64 rows (the unrolled row loop runs twice), and more
//     slabs than the final kernel's 32 lanes (33 slabs of 7 columns, 101 of 45 columns).
// Both must give bitwise the same results whatever the emulator's thread order (block sums and
// lane sums meet in shared memory). A sum is accurate relative to the sum of its terms'
// magnitudes (test_emulated_checks.h).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/reduce.cuh"
#include "tests/emulation/cpu_oracle.h"
#include "tests/emulation/device_array.h"
#include "tests/emulation/test_emulated_checks.h"

using namespace rsd;
using namespace rsd::test;

namespace {

template <typename T>
void check_reduce_sum(int64_t n, double scale, uint64_t seed) {
  const std::vector<double> x = rounded<T>(normal_values(n, seed, 0.25, 1.0));
  double magnitude = 0.0;
  for (double v : x) magnitude += std::fabs(v);
  const double want = oracle::scaled_sum(x, scale);
  DeviceArray<T> dx(x), out(1);
  DeviceArray<unsigned char> workspace(static_cast<int64_t>(kernels::reduce_workspace_bytes(n)));
  kernels::reduce_sum<T>(dx.get(), out.get(), n, static_cast<float>(scale), workspace.get(), nullptr);
  CAPTURE(n);
  const bool f32 = std::is_same_v<T, float>;
  CAPTURE(f32);
  check_within("reduce_sum", out.doubles(), {want}, std::fabs(scale) * magnitude, output_rounding<T>(), kF32Tol);
}

template <typename T>
void check_sum_rows(int64_t rows, int64_t cols, uint64_t seed) {
  const std::vector<double> x = rounded<T>(normal_values(rows * cols, seed, 0.25, 1.0));
  std::vector<double> magnitude(static_cast<size_t>(cols), 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      magnitude[static_cast<size_t>(c)] += std::fabs(x[static_cast<size_t>(r * cols + c)]);
  // sum_rows is linear's bias gradient on CUDA (engine/cuda/linear.cpp): the same reference.
  const std::vector<double> want = oracle::column_sums(x, rows, cols);
  DeviceArray<T> dx(x), y(cols);
  DeviceArray<unsigned char> workspace(static_cast<int64_t>(kernels::sum_rows_workspace_bytes(rows, cols)));
  kernels::sum_rows<T>(dx.get(), y.get(), rows, cols, workspace.get(), nullptr);
  CAPTURE(rows);
  CAPTURE(cols);
  const bool f32 = std::is_same_v<T, float>;
  CAPTURE(f32);
  check_within("sum_rows", y.doubles(), want, magnitude, output_rounding<T>(), kF32Tol);
}

}  // namespace

TEST_SUITE("emulated") {
  TEST_CASE("reduce kernels on the emulator: reduce_sum (f32, bf16) matches the float64 sum") {
    // 1049576 = 4 * 1024 * 256 + 1000: a second pass of the grid-stride loop, partly filled.
    uint64_t seed = 300;
    for (const int64_t n :
         {int64_t{0}, int64_t{1}, int64_t{255}, int64_t{257}, int64_t{5000}, int64_t{262145}, int64_t{1049576}}) {
      check_reduce_sum<float>(n, 0.3, seed);
      check_reduce_sum<__nv_bfloat16>(n, -1.7, seed++);
    }
  }

  TEST_CASE("reduce kernels on the emulator: sum_rows (f32, bf16) matches the float64 column sums") {
    // (1000, 45): 16 slabs of 64 rows, the last one 40; (131, 21857): 684 column tiles, so 2 slabs
    // of 66 and 65 rows (the row loop runs twice) and a last tile of one column; (2100, 7) and
    // (6437, 45): 33 and 101 slabs, more than the final kernel's 32 lanes.
    const std::vector<std::pair<int64_t, int64_t>> sizes{{0, 5},       {1, 1},       {5, 33},  {64, 32},
                                                         {1000, 45},   {131, 21857}, {2100, 7}, {6437, 45}};
    uint64_t seed = 400;
    for (const auto& [rows, cols] : sizes) {
      check_sum_rows<float>(rows, cols, seed);
      check_sum_rows<__nv_bfloat16>(rows, cols, seed++);
    }
  }

  TEST_CASE("reduce kernels on the emulator: results do not depend on thread order") {
    const int64_t rows = 2200, cols = 45;  // 35 slabs: every lane of the column sums' final kernel
    const std::vector<double> x = rounded<float>(normal_values(rows * cols, 450));
    check_order_independent("reduce_sum, sum_rows", [&] {
      DeviceArray<float> dx(x), sum(1), y(cols);
      DeviceArray<unsigned char> w1(static_cast<int64_t>(kernels::reduce_workspace_bytes(rows * cols)));
      DeviceArray<unsigned char> w2(static_cast<int64_t>(kernels::sum_rows_workspace_bytes(rows, cols)));
      kernels::reduce_sum<float>(dx.get(), sum.get(), rows * cols, 1.0f, w1.get(), nullptr);
      kernels::sum_rows<float>(dx.get(), y.get(), rows, cols, w2.get(), nullptr);
      std::vector<double> out = sum.doubles(), ys = y.doubles();
      out.insert(out.end(), ys.begin(), ys.end());
      return out;
    });
  }
}
