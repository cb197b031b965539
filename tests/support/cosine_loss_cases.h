// Cosine-loss test rows, and the row-by-row measure of a gradient's error, shared by the CPU
// and CUDA cases (tests/test_loss_cosine.cpp, suites losses and losses:gpu) and the emulated
// kernels (tests/emulation/test_emulated_losses.cpp). Plain C++.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace rsd::test {

// Rows 0-4 of p, z (at least 5 rows of D): p = 0; z = 0; both 0; p = z; p = -z. Each has its
// own edge of the loss: a clamped norm, a zero target, both, a zero gradient, the maximal loss.
inline void make_cosine_special_rows(int64_t D, std::vector<double>& p, std::vector<double>& z) {
  const auto row = [D](std::vector<double>& v, int64_t r) { return v.begin() + r * D; };
  std::fill(row(p, 0), row(p, 1), 0.0);
  std::fill(row(z, 1), row(z, 2), 0.0);
  std::fill(row(p, 2), row(p, 3), 0.0);
  std::fill(row(z, 2), row(z, 3), 0.0);
  std::copy(row(z, 3), row(z, 4), row(p, 3));
  for (int64_t d = 0; d < D; ++d) p[static_cast<size_t>(4 * D + d)] = -z[static_cast<size_t>(4 * D + d)];
}

// The natural size of row i's gradient (B): |gy_i| / max(|p_i|, eps), where gy_i = -2 g zhat_i / B
// is the gradient of the loss g * mean_i (2 - 2 <phat_i, zhat_i>) with respect to phat_i and
// zhat_i = z_i / max(|z_i|, eps). The bound of a row whose gradient terms cancel (p = z).
inline std::vector<double> cosine_row_scales(const std::vector<double>& p, const std::vector<double>& z, int64_t B,
                                             int64_t D, double eps, double g = 1.0) {
  std::vector<double> scale(static_cast<size_t>(B));
  for (int64_t i = 0; i < B; ++i) {
    double p2 = 0.0, z2 = 0.0;
    for (int64_t d = 0; d < D; ++d) {
      p2 += p[static_cast<size_t>(i * D + d)] * p[static_cast<size_t>(i * D + d)];
      z2 += z[static_cast<size_t>(i * D + d)] * z[static_cast<size_t>(i * D + d)];
    }
    const double zhat_norm = std::sqrt(z2) / std::max(std::sqrt(z2), eps);
    scale[static_cast<size_t>(i)] =
        2.0 * std::fabs(g) * zhat_norm / static_cast<double>(B) / std::max(std::sqrt(p2), eps);
  }
  return scale;
}

// max over rows of |got_i - want_i| / scale_i (cosine_row_scales): the gradient error of each row
// relative to the size of its terms, meaningful where they cancel (p = z: a zero gradient). A row
// whose scale is 0 (z = 0) must match exactly. NaN or infinity anywhere gives +inf.
inline double cosine_row_error(const std::vector<double>& want, const std::vector<double>& scale,
                               const std::vector<double>& got, int64_t B, int64_t D) {
  if (got.size() != want.size()) return INFINITY;
  double worst = 0.0;
  for (int64_t i = 0; i < B; ++i) {
    double diff2 = 0.0;
    for (int64_t d = 0; d < D; ++d) {
      const double e = got[static_cast<size_t>(i * D + d)] - want[static_cast<size_t>(i * D + d)];
      if (!std::isfinite(e)) return INFINITY;
      diff2 += e * e;
    }
    const double s = scale[static_cast<size_t>(i)];
    worst = std::max(worst, s > 0.0 ? std::sqrt(diff2) / s : (diff2 == 0.0 ? 0.0 : INFINITY));
  }
  return worst;
}

}  // namespace rsd::test
