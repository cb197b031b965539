// Softmax cross-entropy (kernels/softmax_xent.cu) on the CPU emulator (tests/emulation/simt.h)
// against the engine's CPU reference in float64 (tests/emulation/cpu_oracle.h), f32 and bf16
// logits: the warp-per-row path (K < 1024: K = 1, 3, 100, 1000) and the block-per-row path
// (K = 1024, 1500), row counts that leave warps of a block idle, a row shifted by +1e4 (the max
// subtraction) and a row of -inf logits except the label;
// the row loop's second pass over a grid capped at 65536 blocks (525289 rows, backward, f32);
// results independent of the emulator's thread order (the block path's shared-memory merges).
//
// Bounds (test_emulated_checks.h): row_lse and row_loss are f32 whatever T is; they are accurate
// to kF32Tol of the magnitudes they are computed from (the row max, log of the scaled sum, the
// label's logit). glogits: p = exp(x - lse) with x - lse rounded in f32 is accurate relative to
// p (1 + |x| + |lse|); plus one bf16 rounding for bf16 outputs.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/softmax_xent.cuh"
#include "tests/emulation/cpu_oracle.h"
#include "tests/emulation/device_array.h"
#include "tests/emulation/test_emulated_checks.h"

using namespace rsd;
using namespace rsd::test;

namespace {

// forward: also launch and check the forward (the backward's inputs come from the reference).
template <typename T>
void check_xent(int64_t N, int64_t K, uint64_t seed, bool forward = true) {
  const bool f32 = std::is_same_v<T, float>;
  CAPTURE(N);
  CAPTURE(K);
  CAPTURE(f32);
  std::vector<double> lv = normal_values(N * K, seed, 0.0, 3.0);
  std::vector<int32_t> labels(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n) labels[static_cast<size_t>(n)] = static_cast<int32_t>((n * 7 + 3) % K);
  if (N > 1)  // row 1: every logit but the label's is -inf
    for (int64_t k = 0; k < K; ++k)
      if (k != labels[1]) lv[static_cast<size_t>(K + k)] = -INFINITY;
  if (N > 2)  // row 2: shifted far from 0 (exp without the max subtraction overflows)
    for (int64_t k = 0; k < K; ++k) lv[static_cast<size_t>(2 * K + k)] += 1e4;
  const std::vector<double> logits = rounded<T>(lv);

  // Forward. The kernel writes each row's loss lse - x_label, the op only their mean: the row
  // losses come from the reference's lse. Bounds: lse to the magnitude of the row maximum and of
  // log of the scaled sum, lse - mx; the loss to that and its label's logit.
  const oracle::SoftmaxCrossEntropy want = oracle::softmax_cross_entropy_forward(logits, labels, N, K);
  std::vector<double> loss(static_cast<size_t>(N)), lse_scale(loss), loss_scale(loss);
  for (int64_t n = 0; n < N; ++n) {
    const auto row = logits.begin() + n * K;
    const auto i = static_cast<size_t>(n);
    const double mx = *std::max_element(row, row + K), lse = want.row_lse[i];
    loss[i] = lse - row[labels[i]];
    lse_scale[i] = 1.0 + std::fabs(mx) + std::fabs(lse - mx);
    loss_scale[i] = lse_scale[i] + std::fabs(row[labels[i]]);
  }
  DeviceArray<T> dlogits(logits);
  DeviceArray<int32_t> dlabels(N);
  std::copy(labels.begin(), labels.end(), dlabels.get());
  if (forward) {
    DeviceArray<float> row_loss(N), row_lse(N);
    kernels::softmax_xent_forward<T>(dlogits.get(), dlabels.get(), row_loss.get(), row_lse.get(), N, K, nullptr);
    check_within("row_lse", row_lse.doubles(), want.row_lse, lse_scale, 0.0, kF32Tol);
    check_within("row_loss", row_loss.doubles(), loss, loss_scale, 0.0, kF32Tol);
  }

  // Backward from the reference's lse rounded to f32 (a given input) and gloss on the device.
  // g = (p - onehot) gloss / N with p = exp(x - lse) accurate relative to p (1 + |x| + |lse|);
  // p is read back from the reference's g.
  const std::vector<double> lse_in = rounded<float>(want.row_lse);
  const double gloss = -0.625;
  const std::vector<double> g = oracle::softmax_cross_entropy_backward(logits, labels, lse_in, gloss, N, K);
  const double scale = gloss / static_cast<double>(N);
  std::vector<double> g_scale(logits.size());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) {
      const auto i = static_cast<size_t>(n * K + k);
      const double x = logits[i], l = lse_in[static_cast<size_t>(n)];
      const double onehot = k == labels[static_cast<size_t>(n)] ? 1.0 : 0.0, p = g[i] / scale + onehot;
      g_scale[i] = std::fabs(scale) * (std::isfinite(x) ? p * (1.0 + std::fabs(x) + std::fabs(l)) + onehot : onehot);
    }
  DeviceArray<float> dlse(lse_in), dgloss(std::vector<double>{gloss});
  DeviceArray<T> glogits(N * K);
  kernels::softmax_xent_backward<T>(dlogits.get(), dlabels.get(), dlse.get(), dgloss.get(), glogits.get(), N, K,
                                    nullptr);
  check_within("glogits", glogits.doubles(), g, g_scale, output_rounding<T>(), kF32Tol);
}

}  // namespace

TEST_SUITE("emulated") {
  TEST_CASE("softmax_xent kernels on the emulator: forward and backward (f32, bf16) match float64") {
    const std::vector<std::pair<int64_t, int64_t>> sizes{{1, 1},    {37, 3},   {300, 100}, {41, 1000},
                                                         {9, 1024}, {5, 1500}, {3, 2}};
    uint64_t seed = 4000;
    for (const auto& [N, K] : sizes) {
      check_xent<float>(N, K, seed);
      check_xent<__nv_bfloat16>(N, K, seed);
      ++seed;
    }
  }

  TEST_CASE("softmax_xent kernels on the emulator: the row loop strides over the grid (65536 blocks of 8 rows)") {
    // 65536 * 8 + 1001 rows of one warp each: the grid is capped at 65536 blocks, so the first
    // 1001 warps take a second row. The backward in f32 only (the forward's row loop is the same,
    // and its warp merges over 17 million threads take seconds; the loop does not depend on T).
    check_xent<float>(int64_t{65536} * 8 + 1001, 3, 4100, false);
  }

  TEST_CASE("softmax_xent kernels on the emulator: results do not depend on thread order") {
    // Rows of 1500: the block-per-row path, whose merges go through shared memory.
    const int64_t N = 5, K = 1500;
    const std::vector<double> logits = rounded<float>(normal_values(N * K, 4200, 0.0, 3.0));
    check_order_independent("softmax_xent forward", [&] {
      DeviceArray<float> dlogits(logits), row_loss(N), row_lse(N);
      DeviceArray<int32_t> labels(std::vector<double>{0, 1, 2, 1499, 700});
      kernels::softmax_xent_forward<float>(dlogits.get(), labels.get(), row_loss.get(), row_lse.get(), N, K, nullptr);
      std::vector<double> out = row_loss.doubles(), lse = row_lse.doubles();
      out.insert(out.end(), lse.begin(), lse.end());
      return out;
    });
  }
}
