// The linear layer's bias kernel (kernels/linear.cu) on the CPU emulator (tests/emulation/simt.h):
// y (rows, cols) += b (cols) on every row, f32 and bf16, against the engine's CPU add
// (tests/emulation/cpu_oracle.h) of y and b repeated on every row. Sizes: one element, a column
// tail of the 32-column tiles, several row blocks, and the row loop running twice (262145 columns:
// 8193 column tiles, so one row block of 8 lanes for 65 rows; f32, the loop does not depend on T).
//
// Bound: exact. The kernel adds two values of T in float and rounds once to T; the sum of two such
// inputs (normal draws) is exact in float64, so T(f32(y + b)) of the reference is what it stores.
#include <doctest/doctest.h>

#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/linear.cuh"
#include "tests/emulation/cpu_oracle.h"
#include "tests/emulation/device_array.h"
#include "tests/emulation/test_emulated_checks.h"

using namespace rsd;
using namespace rsd::test;

namespace {

template <typename T>
void check_add_bias(int64_t rows, int64_t cols, uint64_t seed) {
  CAPTURE(rows);
  CAPTURE(cols);
  const bool f32 = std::is_same_v<T, float>;
  CAPTURE(f32);
  const std::vector<double> y0 = rounded<T>(normal_values(rows * cols, seed));
  const std::vector<double> b = rounded<T>(normal_values(cols, seed + 1));
  std::vector<double> b_rows(y0.size());
  for (size_t i = 0; i < b_rows.size(); ++i) b_rows[i] = b[i % static_cast<size_t>(cols)];
  DeviceArray<T> y(y0), db(b);
  kernels::linear_add_bias<T>(y.get(), db.get(), rows, cols, nullptr);
  check_exact("y + b", y.doubles(), rounded<T>(rounded<float>(oracle::add(y0, b_rows))));
}

}  // namespace

TEST_SUITE("emulated") {
  TEST_CASE("linear bias kernel on the emulator: every row gets the bias (f32, bf16)") {
    uint64_t seed = 7000;
    for (const auto& [rows, cols] : {std::pair<int64_t, int64_t>{1, 1}, {7, 45}, {1000, 33}, {300, 130}}) {
      check_add_bias<float>(rows, cols, seed);
      check_add_bias<__nv_bfloat16>(rows, cols, seed);
      seed += 2;
    }
    check_add_bias<float>(65, 262145, seed);
  }

  TEST_CASE("linear bias kernel on the emulator: no rows or no columns leave y as it is") {
    DeviceArray<float> y(std::vector<double>{1.5, -2.0}), b(std::vector<double>{3.0, 4.0});
    kernels::linear_add_bias<float>(y.get(), b.get(), 0, 2, nullptr);
    kernels::linear_add_bias<float>(y.get(), b.get(), 2, 0, nullptr);
    check_exact("y", y.doubles(), {1.5, -2.0});
  }
}
