#include "models/pretrain/collapse_monitors.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace rsd::pretrain {

CollapseMonitors collapse_monitors(const Tensor& z) {
  RSD_CHECK(z.ndim() == 2 && z.dim(0) >= 2, "collapse monitors need embeddings (N >= 2, D), got ", z.describe());
  const int64_t n = z.dim(0), d = z.dim(1);
  std::vector<double> v = z.to_host_doubles();
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int64_t k = 0; k < d; ++k) s += v[i * d + k] * v[i * d + k];
    const double inv = 1.0 / std::max(std::sqrt(s), 1e-12);
    for (int64_t k = 0; k < d; ++k) v[i * d + k] *= inv;
  }
  CollapseMonitors m;
  m.ideal_std = 1.0 / std::sqrt(static_cast<double>(d));
  // Mean off-diagonal cosine from the column sums: sum_{i != j} <u_i, u_j> = |sum_i u_i|^2 - sum_i |u_i|^2.
  std::vector<double> mean(d, 0.0);
  double self = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 0; k < d; ++k) {
      mean[k] += v[i * d + k];
      self += v[i * d + k] * v[i * d + k];
    }
  }
  double total = 0;
  for (double s : mean) total += s * s;
  m.mean_offdiag_cosine = (total - self) / static_cast<double>(n * (n - 1));
  double std_sum = 0;
  for (int64_t k = 0; k < d; ++k) {
    const double mu = mean[k] / static_cast<double>(n);
    double var = 0;
    for (int64_t i = 0; i < n; ++i) var += (v[i * d + k] - mu) * (v[i * d + k] - mu);
    std_sum += std::sqrt(var / static_cast<double>(n));
  }
  m.embedding_std = std_sum / static_cast<double>(d);
  return m;
}

}  // namespace rsd::pretrain
