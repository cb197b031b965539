// Pooling kernels (kernels/pool.cu, NHWC) on the CPU emulator (tests/emulation/simt.h) against
// the engine's CPU reference in float64 (tests/emulation/cpu_oracle.h), f32 and bf16.
//   max pooling: windows with padding, overlapping (stride 1) and non-square ones, windows lying
//     wholly in padding (y = -inf, argmax = -1), ties (values from a set of 7 integers: the first
//     in row-major window order wins) and NaNs (a NaN wins); channel counts that are not
//     multiples of 32. The forward is exact (a maximum), and so is the backward here: gy holds
//     multiples of 1/4 below 2 in magnitude, whose sums over at most 9 windows need at most 7
//     significant bits (exact in f32 accumulation and in bf16). The backward's gather is checked
//     against the reference's scatter of gy to the argmax. The kernel's non-square windows, which
//     the op and its reference do not have, are checked against a window loop (max_pool_want).
//   global average pooling: HW = 0 (zeros), 1, and more pixels than the 8 row lanes; the forward
//     mean within kF32Tol of sum |x| / HW, the backward's single division within kF32Tol (plus
//     one bf16 rounding for bf16 outputs, test_emulated_checks.h); its forward's lane sums meet in
//     shared memory: the result must not depend on the emulator's thread order.
//   the one-thread-per-element loops' second pass (more than 65536 blocks of 256 threads; f32).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "kernels/pool.cuh"
#include "tests/emulation/cpu_oracle.h"
#include "tests/emulation/device_array.h"
#include "tests/emulation/test_emulated_checks.h"

using namespace rsd;
using namespace rsd::test;

namespace {

struct PoolCase {
  int N, H, W, C, kh, kw, stride, pad;
  int P() const { return (H + 2 * pad - kh) / stride + 1; }
  int Q() const { return (W + 2 * pad - kw) / stride + 1; }
};

// Integers in [-3, 3] (many ties), with about 1 in 200 a NaN.
std::vector<double> tie_values(int64_t count, uint64_t seed) {
  const std::vector<double> u = uniform_values(count, seed, 0.0, 1.0);
  std::vector<double> v(u.size());
  for (size_t i = 0; i < u.size(); ++i) v[i] = u[i] < 0.005 ? NAN : std::floor(u[i] * 7.0) - 3.0;
  return v;
}

// Multiples of 1/4 in [-2, 2).
std::vector<double> quarter_values(int64_t count, uint64_t seed) {
  const std::vector<double> u = uniform_values(count, seed, -8.0, 8.0);
  std::vector<double> v(u.size());
  for (size_t i = 0; i < u.size(); ++i) v[i] = std::floor(u[i]) / 4.0;
  return v;
}

// y and argmax of the max pooling of x (N, H, W, C). Square windows (the op's): the engine's
// reference. The kernel also takes a kh x kw window, which the op never asks of it and the
// reference cannot run: for that one the window loop here, by the reference's rule
// (engine/cpu/pool.cpp): the first in-bounds element of the window in row-major order, replaced
// by a strictly larger one or by the first NaN; a window wholly in padding gives (-inf, -1).
oracle::MaxPool max_pool_want(const PoolCase& s, const std::vector<double>& x) {
  const int P = s.P(), Q = s.Q();
  if (s.kh == s.kw) return oracle::max_pool2d_forward(x, s.N, s.H, s.W, s.C, s.kh, s.stride, s.pad, P, Q);
  oracle::MaxPool want;
  want.y.resize(static_cast<size_t>(s.N) * P * Q * s.C);
  want.argmax.resize(want.y.size());
  for (int n = 0; n < s.N; ++n)
    for (int p = 0; p < P; ++p)
      for (int q = 0; q < Q; ++q)
        for (int c = 0; c < s.C; ++c) {
          double best = -INFINITY;
          int best_idx = -1;
          for (int a = 0; a < s.kh; ++a)
            for (int b = 0; b < s.kw; ++b) {
              const int h = p * s.stride - s.pad + a, w = q * s.stride - s.pad + b;
              if (h < 0 || h >= s.H || w < 0 || w >= s.W) continue;
              const double v = x[static_cast<size_t>(((static_cast<int64_t>(n) * s.H + h) * s.W + w) * s.C + c)];
              const bool take = best_idx < 0 || (!std::isnan(best) && (std::isnan(v) || v > best));
              if (take) {
                best = v;
                best_idx = h * s.W + w;
              }
            }
          const auto o = static_cast<size_t>(((static_cast<int64_t>(n) * P + p) * Q + q) * s.C + c);
          want.y[o] = best;
          want.argmax[o] = best_idx;
        }
  return want;
}

template <typename T>
void check_maxpool(const PoolCase& s, uint64_t seed) {
  const bool f32 = std::is_same_v<T, float>;
  const int P = s.P(), Q = s.Q();
  CAPTURE(s.N);
  CAPTURE(s.H);
  CAPTURE(s.W);
  CAPTURE(s.C);
  CAPTURE(s.kh);
  CAPTURE(s.kw);
  CAPTURE(s.stride);
  CAPTURE(s.pad);
  CAPTURE(f32);
  const int64_t in_count = static_cast<int64_t>(s.N) * s.H * s.W * s.C;
  const int64_t out_count = static_cast<int64_t>(s.N) * P * Q * s.C;
  const std::vector<double> x = rounded<T>(tie_values(in_count, seed));

  const oracle::MaxPool want = max_pool_want(s, x);
  DeviceArray<T> dx(x), dy(out_count);
  DeviceArray<int32_t> dargmax(out_count);
  // -1 is both a valid argmax and the poison of an int32: start from another value.
  std::fill(dargmax.get(), dargmax.get() + out_count, 0x5a5a5a5a);
  kernels::maxpool2d_forward<T>(dx.get(), dy.get(), dargmax.get(), s.N, s.H, s.W, s.C, s.kh, s.kw, s.stride, s.pad, P,
                                Q, nullptr);
  check_exact("maxpool y", dy.doubles(), want.y);
  check_exact("maxpool argmax", dargmax.doubles(), want.argmax);

  // Backward: gy summed onto the reference argmax (the kernel gathers).
  const std::vector<double> gy = rounded<T>(quarter_values(out_count, seed + 1));
  const std::vector<int32_t> arg_in(want.argmax.begin(), want.argmax.end());
  DeviceArray<T> dgy(gy), dgx(in_count);
  DeviceArray<int32_t> darg_in(out_count);
  std::copy(arg_in.begin(), arg_in.end(), darg_in.get());
  kernels::maxpool2d_backward<T>(dgy.get(), darg_in.get(), dgx.get(), s.N, s.H, s.W, s.C, s.kh, s.kw, s.stride, s.pad,
                                 P, Q, nullptr);
  check_exact("maxpool gx", dgx.doubles(), oracle::max_pool2d_backward(gy, want.argmax, s.N, s.H, s.W, s.C, P, Q));
}

template <typename T>
void check_avgpool(int N, int HW, int C, uint64_t seed) {
  const bool f32 = std::is_same_v<T, float>;
  CAPTURE(N);
  CAPTURE(HW);
  CAPTURE(C);
  CAPTURE(f32);
  const int64_t in_count = static_cast<int64_t>(N) * HW * C;
  const std::vector<double> x = rounded<T>(normal_values(in_count, seed, 0.5, 1.0));
  // The op refuses images without pixels (engine/ops/pool.cpp): there the kernel writes zeros.
  const std::vector<double> y =
      HW > 0 ? oracle::global_avg_pool_forward(x, N, HW, C) : std::vector<double>(static_cast<size_t>(N) * C, 0.0);
  std::vector<double> y_scale(y.size(), 0.0);
  for (int n = 0; n < N; ++n)
    for (int i = 0; i < HW; ++i)
      for (int c = 0; c < C; ++c)
        y_scale[static_cast<size_t>(n) * C + c] +=
            std::fabs(x[static_cast<size_t>((static_cast<int64_t>(n) * HW + i) * C + c)]) / HW;
  DeviceArray<T> dx(x), dy(static_cast<int64_t>(N) * C);
  kernels::global_avgpool_forward<T>(dx.get(), dy.get(), N, HW, C, nullptr);
  check_within("avgpool y", dy.doubles(), y, y_scale, output_rounding<T>(), kF32Tol);

  const std::vector<double> gy = rounded<T>(normal_values(static_cast<int64_t>(N) * C, seed + 1));
  const std::vector<double> gx = oracle::global_avg_pool_backward(gy, N, HW, C);
  std::vector<double> gx_scale(gx.size());
  for (size_t i = 0; i < gx.size(); ++i) gx_scale[i] = std::fabs(gx[i]);
  DeviceArray<T> dgy(gy), dgx(in_count);
  kernels::global_avgpool_backward<T>(dgy.get(), dgx.get(), N, HW, C, nullptr);
  check_within("avgpool gx", dgx.doubles(), gx, gx_scale, output_rounding<T>(), kF32Tol);
}

}  // namespace

TEST_SUITE("emulated") {
  TEST_CASE("pool kernels on the emulator: max pooling forward and backward (f32, bf16) are exact") {
    // {N, H, W, C, kh, kw, stride, pad}: the ResNet stem's 3x3/2 pad 1; windows wholly in padding
    // (pad 2 with a 2x2 window); non-square, no padding; overlapping stride 1; one pixel; and a
    // larger one over 123 blocks.
    const PoolCase cases[] = {{2, 7, 9, 35, 3, 3, 2, 1}, {1, 5, 5, 3, 2, 2, 1, 2}, {3, 8, 6, 64, 2, 3, 2, 0},
                              {2, 6, 7, 33, 3, 3, 1, 1}, {1, 1, 1, 1, 1, 1, 1, 0}, {4, 28, 28, 40, 3, 3, 2, 1}};
    uint64_t seed = 5000;
    for (const PoolCase& c : cases) {
      check_maxpool<float>(c, seed);
      check_maxpool<__nv_bfloat16>(c, seed);
      seed += 2;
    }
  }

  TEST_CASE("pool kernels on the emulator: the grid-stride loops (more than 65536 blocks of 256 threads)") {
    // 1x1 max pooling over 4 x 64 x 64 x 1025 = 2^24 + 16384 elements (forward and backward have
    // one thread per element: the first 16384 threads take a second one), and the average pooling
    // backward over 2 x 4097 x 2048 = 2^24 + 4096 elements. f32: the loops do not depend on T.
    check_maxpool<float>({4, 64, 64, 1025, 1, 1, 1, 0}, 5200);
    check_avgpool<float>(2, 4097, 2048, 5202);
  }

  TEST_CASE("pool kernels on the emulator: global average pooling forward and backward (f32, bf16) match float64") {
    const int cases[][3] = {{3, 49, 70}, {2, 1, 5}, {2, 0, 5}, {1, 300, 33}, {5, 7, 1}};
    uint64_t seed = 5100;
    for (const auto& c : cases) {
      check_avgpool<float>(c[0], c[1], c[2], seed);
      check_avgpool<__nv_bfloat16>(c[0], c[1], c[2], seed);
      seed += 2;
    }
  }

  TEST_CASE("pool kernels on the emulator: results do not depend on thread order") {
    // The average pooling forward adds its row lanes through shared memory.
    const int N = 3, HW = 49, C = 70;
    const std::vector<double> x = rounded<float>(normal_values(static_cast<int64_t>(N) * HW * C, 5300));
    check_order_independent("global_avgpool_forward", [&] {
      DeviceArray<float> dx(x), y(static_cast<int64_t>(N) * C);
      kernels::global_avgpool_forward<float>(dx.get(), y.get(), N, HW, C, nullptr);
      return y.doubles();
    });
  }
}
