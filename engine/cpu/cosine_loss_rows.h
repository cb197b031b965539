// One row of byol_cosine_loss (engine/ops/cosine_loss_kernels.h), shared by the reference
// (engine/cpu/cosine_loss.cpp, rows in order) and the fast CPU backend (engine/onednn/
// cosine_loss.cpp, rows on the OpenMP pool): the same arithmetic, so the gradients are identical.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace rsd::cpu {

// p, z: one row of D values. Returns 2 - 2 cos(p, z), in double. When dp is not null it receives
// scale * dloss/dp, per row (np = max(|p|, eps), nz = max(|z|, eps), cos = <p, z> / (np nz)):
//   dloss/dp = -2 z / (np nz) + 2 cos p / np^2   where |p| > eps,
//   dloss/dp = -2 z / (eps nz)                   otherwise (np is the constant eps).
template <typename T>
double cosine_loss_row(const T* p, const T* z, T* dp, int64_t D, double eps, double scale) {
  double p2 = 0.0, z2 = 0.0, dot = 0.0;
  for (int64_t d = 0; d < D; ++d) {
    const double pv = static_cast<double>(p[d]), zv = static_cast<double>(z[d]);
    p2 += pv * pv;
    z2 += zv * zv;
    dot += pv * zv;
  }
  const double norm_p = std::sqrt(p2);
  const double np = std::max(norm_p, eps), nz = std::max(std::sqrt(z2), eps);
  const double cos = dot / (np * nz);
  if (dp != nullptr) {
    const double a = -2.0 * scale / (np * nz);
    const double b = norm_p > eps ? 2.0 * scale * cos / (np * np) : 0.0;
    for (int64_t d = 0; d < D; ++d)
      dp[d] = static_cast<T>(a * static_cast<double>(z[d]) + b * static_cast<double>(p[d]));
  }
  return 2.0 - 2.0 * cos;
}

}  // namespace rsd::cpu
