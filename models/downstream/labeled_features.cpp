#include "models/downstream/labeled_features.h"

#include "engine/error.h"

namespace rsd::downstream {

LabeledFeatures select_rows(const LabeledFeatures& f, const std::vector<int64_t>& indices) {
  LabeledFeatures out;
  out.rows = static_cast<int64_t>(indices.size());
  out.dim = f.dim;
  out.x.reserve(static_cast<size_t>(out.rows * f.dim));
  for (int64_t i : indices) {
    RSD_CHECK(i >= 0 && i < f.rows, "select_rows: row ", i, " is outside [0, ", f.rows, ")");
    out.x.insert(out.x.end(), f.row(i), f.row(i) + f.dim);
    out.y.push_back(f.y[static_cast<size_t>(i)]);
  }
  return out;
}

}  // namespace rsd::downstream
