// The InfoNCE test cases shared by the CUDA cases (tests/test_loss_info_nce.cpp, suite
// losses:gpu) and the emulated-kernel suite (tests/emulation/test_emulated_losses.cpp, on the CPU): the sizes,
// the rows made special, and the accuracy bounds against the float64 oracle (the CPU op in f64);
// the error measure of the gradients (relative_l2) also serves the CPU op's own test
// (tests/test_loss_info_nce.cpp). Plain C++.
//
// The sizes reach: one and several splits of the looped rows (N << M), D below and above one
// chunk of 256 (the chunked fallback), D not a multiple of 8 (element copies), tails of every
// tile, offsets (the distributed case), tau down to 0.01.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace rsd::test {

struct NceConfig {
  int64_t n, m, offset, d;
  double tau;
  bool symmetric;
};

inline const std::vector<NceConfig>& nce_sizes() {
  static const std::vector<NceConfig> sizes = {
      {1, 1, 0, 3, 0.1, true},          {3, 3, 0, 64, 0.1, true},         {3, 7, 4, 130, 0.07, false},
      {257, 257, 0, 64, 0.1, true},     {257, 300, 43, 130, 0.05, true},  {1000, 1000, 0, 256, 0.07, true},
      {1000, 1200, 200, 3, 0.1, false}, {64, 4096, 1000, 256, 0.1, true}, {100, 300, 50, 300, 0.1, true},
      {129, 129, 0, 257, 0.2, true},    {1000, 1000, 0, 64, 0.01, true},  {33, 2000, 7, 130, 0.1, false}};
  return sizes;
}

// Sizes for the rows made special by make_special_rows.
inline const std::vector<NceConfig>& nce_special_sizes() {
  static const std::vector<NceConfig> sizes = {
      {33, 40, 5, 64, 0.1, true}, {130, 200, 70, 3, 0.1, true}, {70, 70, 0, 300, 0.1, true}};
  return sizes;
}

// Zero rows in A and B (one of them a positive), duplicate rows in A and in B, and ten positive
// pairs that are the same vector. a: (n, d), b: (m, d).
inline void make_special_rows(const NceConfig& c, std::vector<double>& a, std::vector<double>& b) {
  const auto row = [&c](std::vector<double>& v, int64_t r) { return v.begin() + r * c.d; };
  std::fill(row(a, 4), row(a, 5), 0.0);
  std::fill(row(b, 0), row(b, 1), 0.0);
  std::fill(row(b, c.offset + 6), row(b, c.offset + 7), 0.0);
  std::copy(row(a, 0), row(a, 1), row(a, 1));
  std::copy(row(b, 2), row(b, 3), row(b, 30));
  for (int64_t i = 10; i < 20; ++i) std::copy(row(a, i), row(a, i + 1), row(b, c.offset + i));
}

// Relative bound on the loss, dtau and the gradients' relative L2 error:
//   f32: 1e-5 at tau >= 0.1, growing as 0.1 / tau below (the f32 rounding of S, up to 1/tau in
//        size, moves every probability by ~1e-7 / tau relative; see tests/test_loss_info_nce.cpp).
//   bf16: 1e-2. Fused: S comes from the exact bf16 inputs with f32 accumulation, G is rounded to
//        bf16 once for the second product and the gradients once at the store: ~3e-3 in a float64
//        simulation of these sizes. Plain: a_hat, a_hat / tau and b_hat are rounded to bf16
//        before the GEMM (f32 logits): up to ~7e-3 at tau = 0.01, D = 64.
inline double nce_bound(bool f32, double tau) { return f32 ? 1e-5 * std::max(1.0, 0.1 / tau) : 1e-2; }

// ||got - ref|| / ||ref|| (L2 over all elements); +inf when got holds a NaN or infinity.
inline double relative_l2(const std::vector<double>& ref, const std::vector<double>& got) {
  if (ref.size() != got.size()) return INFINITY;
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    num += (got[i] - ref[i]) * (got[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return std::sqrt(num / std::max(den, 1e-300));
}

}  // namespace rsd::test
