#include "models/downstream/knn_probe.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/error.h"

namespace rsd::downstream {

namespace {

// Rows scaled to unit length (zero rows stay zero), in double.
std::vector<double> unit_rows(const LabeledFeatures& f) {
  std::vector<double> out(f.x.begin(), f.x.end());
  for (int64_t i = 0; i < f.rows; ++i) {
    double* row = out.data() + i * f.dim;
    double norm = 0;
    for (int64_t j = 0; j < f.dim; ++j) norm += row[j] * row[j];
    norm = std::sqrt(norm);
    if (norm > 0)
      for (int64_t j = 0; j < f.dim; ++j) row[j] /= norm;
  }
  return out;
}

}  // namespace

std::vector<int32_t> knn_predict(const LabeledFeatures& train, const LabeledFeatures& test, int classes, int k) {
  RSD_CHECK(train.rows > 0, "knn: no training rows");
  RSD_CHECK(train.dim == test.dim, "knn: training features of dimension ", train.dim, " but test features of ",
            test.dim);
  RSD_CHECK(k >= 1 && k <= train.rows, "knn: k must be in [1, ", train.rows, "] (the training rows), got ", k);
  for (int32_t y : train.y)
    RSD_CHECK(y >= 0 && y < classes, "knn: training label ", y, " is outside [0, ", classes, ")");
  const std::vector<double> a = unit_rows(train), b = unit_rows(test);
  std::vector<int32_t> out(static_cast<size_t>(test.rows));
  std::vector<double> similarity(static_cast<size_t>(train.rows));
  std::vector<int64_t> order(static_cast<size_t>(train.rows));
  for (int64_t i = 0; i < test.rows; ++i) {
    const double* q = b.data() + i * test.dim;
    for (int64_t n = 0; n < train.rows; ++n) {
      const double* r = a.data() + n * train.dim;
      double dot = 0;
      for (int64_t j = 0; j < train.dim; ++j) dot += q[j] * r[j];
      similarity[static_cast<size_t>(n)] = dot;
    }
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int64_t l, int64_t r) {
      const double sl = similarity[static_cast<size_t>(l)], sr = similarity[static_cast<size_t>(r)];
      return sl != sr ? sl > sr : l < r;
    });
    std::vector<int> votes(static_cast<size_t>(classes), 0);
    std::vector<double> weight(static_cast<size_t>(classes), 0.0);
    for (int n = 0; n < k; ++n) {
      const int64_t t = order[static_cast<size_t>(n)];
      const auto c = static_cast<size_t>(train.y[static_cast<size_t>(t)]);
      ++votes[c];
      weight[c] += similarity[static_cast<size_t>(t)];
    }
    int best = 0;
    for (int c = 1; c < classes; ++c) {
      const auto uc = static_cast<size_t>(c), ub = static_cast<size_t>(best);
      if (votes[uc] > votes[ub] || (votes[uc] == votes[ub] && weight[uc] > weight[ub])) best = c;
    }
    out[static_cast<size_t>(i)] = best;
  }
  return out;
}

}  // namespace rsd::downstream
