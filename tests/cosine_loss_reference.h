// An independent float64 reference of BYOL's cosine loss for the tests (test_loss_cosine.cpp on the
// CPU, test_cuda_losses.cpp on CUDA). Plain loops over doubles, no engine ops, and the gradient
// by the chain rule through the normalization rather than the op's closed form:
//   phat = p / max(|p|, eps), zhat = z / max(|z|, eps), L = mean_i (2 - 2 <phat_i, zhat_i>),
//   dL/dphat_i = -2 g zhat_i / B, and back through phat = p / max(|p|, eps):
//   dp_i = (gy - phat <gy, phat>) / |p_i| where |p_i| > eps, gy / eps otherwise.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace rsd::test {

struct CosineLossReference {
  double loss = 0.0;
  std::vector<double> dp;         // (B, D): g * dL/dp
  std::vector<double> row_scale;  // (B): |gy_i| / max(|p_i|, eps), the natural size of row i's gradient
};

inline CosineLossReference cosine_loss_reference(const std::vector<double>& p, const std::vector<double>& z,
                                                 int64_t B, int64_t D, double eps, double g = 1.0) {
  CosineLossReference r;
  r.dp.assign(static_cast<size_t>(B * D), 0.0);
  r.row_scale.assign(static_cast<size_t>(B), 0.0);
  std::vector<double> phat(static_cast<size_t>(D)), zhat(static_cast<size_t>(D)), gy(static_cast<size_t>(D));
  for (int64_t i = 0; i < B; ++i) {
    const double* pi = p.data() + i * D;
    const double* zi = z.data() + i * D;
    double p2 = 0.0, z2 = 0.0;
    for (int64_t d = 0; d < D; ++d) {
      p2 += pi[d] * pi[d];
      z2 += zi[d] * zi[d];
    }
    const double np = std::max(std::sqrt(p2), eps), nz = std::max(std::sqrt(z2), eps);
    double cos = 0.0;
    for (int64_t d = 0; d < D; ++d) {
      phat[static_cast<size_t>(d)] = pi[d] / np;
      zhat[static_cast<size_t>(d)] = zi[d] / nz;
      cos += phat[static_cast<size_t>(d)] * zhat[static_cast<size_t>(d)];
    }
    r.loss += 2.0 - 2.0 * cos;
    double gy_phat = 0.0, gy2 = 0.0;
    for (int64_t d = 0; d < D; ++d) {
      gy[static_cast<size_t>(d)] = -2.0 * g * zhat[static_cast<size_t>(d)] / static_cast<double>(B);
      gy_phat += gy[static_cast<size_t>(d)] * phat[static_cast<size_t>(d)];
      gy2 += gy[static_cast<size_t>(d)] * gy[static_cast<size_t>(d)];
    }
    const bool clamped = !(std::sqrt(p2) > eps);
    for (int64_t d = 0; d < D; ++d) {
      const double v = clamped ? gy[static_cast<size_t>(d)] / eps
                               : (gy[static_cast<size_t>(d)] - phat[static_cast<size_t>(d)] * gy_phat) / np;
      r.dp[static_cast<size_t>(i * D + d)] = v;
    }
    r.row_scale[static_cast<size_t>(i)] = std::sqrt(gy2) / np;
  }
  r.loss /= static_cast<double>(B);
  return r;
}

// max over rows of |got_i - ref_i| / ref.row_scale[i]: the gradient error of each row relative to
// the size of its terms, meaningful where they cancel (p = z: a zero gradient). A row whose
// scale is 0 (z = 0) must match exactly. NaN or infinity anywhere gives +inf.
inline double cosine_row_error(const CosineLossReference& ref, const std::vector<double>& got, int64_t B, int64_t D) {
  if (got.size() != ref.dp.size()) return INFINITY;
  double worst = 0.0;
  for (int64_t i = 0; i < B; ++i) {
    double diff2 = 0.0;
    for (int64_t d = 0; d < D; ++d) {
      const double e = got[static_cast<size_t>(i * D + d)] - ref.dp[static_cast<size_t>(i * D + d)];
      if (!std::isfinite(e)) return INFINITY;
      diff2 += e * e;
    }
    const double scale = ref.row_scale[static_cast<size_t>(i)];
    const double err = scale > 0.0 ? std::sqrt(diff2) / scale : (diff2 == 0.0 ? 0.0 : INFINITY);
    worst = std::max(worst, err);
  }
  return worst;
}

}  // namespace rsd::test
