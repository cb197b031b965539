// Frozen features with their class labels: what the classification probes (logistic regression,
// k-nearest neighbours) train and test on.
#pragma once
#include <cstdint>
#include <vector>

namespace rsd::downstream {

struct LabeledFeatures {
  int64_t rows = 0, dim = 0;
  std::vector<float> x;    // (rows, dim) row-major
  std::vector<int32_t> y;  // (rows): class indices

  const float* row(int64_t i) const { return x.data() + i * dim; }
};

// The rows of `f` listed in `indices`, in that order.
LabeledFeatures select_rows(const LabeledFeatures& f, const std::vector<int64_t>& indices);

}  // namespace rsd::downstream
