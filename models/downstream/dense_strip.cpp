#include "models/downstream/dense_strip.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace rsd::downstream {

namespace {
constexpr double kPi = 3.14159265358979323846;
}  // namespace

double blend_weight(int64_t i, int64_t n) {
  const double s = std::sin(kPi * (static_cast<double>(i) + 0.5) / static_cast<double>(n));
  return s * s;
}

AxisSampling axis_sampling(int64_t pixels, int64_t cells, int64_t stride) {
  AxisSampling s;
  for (int64_t i = 0; i < pixels; ++i) {
    const double f = std::clamp((static_cast<double>(i) + 0.5) / static_cast<double>(stride) - 0.5, 0.0,
                                static_cast<double>(cells - 1));
    const auto lo = static_cast<int64_t>(std::floor(f));
    s.lo.push_back(lo);
    s.hi.push_back(std::min(lo + 1, cells - 1));
    s.a.push_back(static_cast<float>(f - static_cast<double>(lo)));
  }
  return s;
}

void upsampled_feature(const std::vector<double>& fmap, int64_t fw, int64_t dim, const AxisSampling& sy,
                       const AxisSampling& sx, int64_t ty, int64_t tx, float* out) {
  const auto y = static_cast<size_t>(ty), x = static_cast<size_t>(tx);
  const float ay = sy.a[y], ax = sx.a[x];
  const double* c00 = fmap.data() + (sy.lo[y] * fw + sx.lo[x]) * dim;
  const double* c01 = fmap.data() + (sy.lo[y] * fw + sx.hi[x]) * dim;
  const double* c10 = fmap.data() + (sy.hi[y] * fw + sx.lo[x]) * dim;
  const double* c11 = fmap.data() + (sy.hi[y] * fw + sx.hi[x]) * dim;
  for (int64_t k = 0; k < dim; ++k) {
    const double top = (1.0 - ax) * c00[k] + ax * c01[k];
    const double bottom = (1.0 - ax) * c10[k] + ax * c11[k];
    out[k] = static_cast<float>((1.0 - ay) * top + ay * bottom);
  }
}

StripAccumulator::StripAccumulator(int64_t width, int64_t dim) : width_(width), dim_(dim) {
  RSD_CHECK(width >= 1 && dim >= 1, "StripAccumulator: width ", width, " and dimension ", dim, " must be positive");
}

void StripAccumulator::extend_to(int64_t end) {
  if (end <= end_row()) return;
  rows_ = end - first_row_;
  const auto pixels = static_cast<size_t>(rows_ * width_);
  sum_.resize(pixels * static_cast<size_t>(dim_), 0.0f);
  weight_.resize(pixels, 0.0f);
  invalid_.resize(pixels, 0);
  peak_values_ = std::max(peak_values_, static_cast<int64_t>(sum_.size()));
}

void StripAccumulator::add_tile(const std::vector<double>& fmap, int64_t fh, int64_t fw, int64_t stride, int64_t y0,
                                int64_t x0, int64_t h, int64_t w) {
  RSD_CHECK(y0 >= first_row_ && y0 + h <= end_row() && x0 >= 0 && x0 + w <= width_, "StripAccumulator: tile rows [", y0,
            ", ", y0 + h, ") columns [", x0, ", ", x0 + w, ") outside the strip's rows [", first_row_, ", ", end_row(),
            ") of width ", width_);
  const AxisSampling sy = axis_sampling(h, fh, stride), sx = axis_sampling(w, fw, stride);
  std::vector<float> f(static_cast<size_t>(dim_));
  for (int64_t ty = 0; ty < h; ++ty) {
    const double wy = blend_weight(ty, h);
    for (int64_t tx = 0; tx < w; ++tx) {
      const auto wt = static_cast<float>(wy * blend_weight(tx, w));
      upsampled_feature(fmap, fw, dim_, sy, sx, ty, tx, f.data());
      const auto p = static_cast<size_t>((y0 + ty - first_row_) * width_ + x0 + tx);
      float* out = sum_.data() + p * static_cast<size_t>(dim_);
      for (int64_t k = 0; k < dim_; ++k) out[k] += wt * f[static_cast<size_t>(k)];
      weight_[p] += wt;
    }
  }
}

void StripAccumulator::mark_invalid(const std::vector<uint8_t>& invalid, int64_t y0, int64_t x0, int64_t h, int64_t w) {
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      if (invalid[static_cast<size_t>(y * w + x)] != 0)
        invalid_[static_cast<size_t>((y0 + y - first_row_) * width_ + x0 + x)] = 1;
}

void StripAccumulator::finished_row(int64_t y, float* features, uint8_t* invalid) const {
  RSD_CHECK(y >= first_row_ && y < end_row(), "StripAccumulator: row ", y, " is not held (rows [", first_row_, ", ",
            end_row(), "))");
  const auto row = static_cast<size_t>((y - first_row_) * width_);
  for (int64_t x = 0; x < width_; ++x) {
    const size_t p = row + static_cast<size_t>(x);
    const float w = weight_[p];
    const float* s = sum_.data() + p * static_cast<size_t>(dim_);
    for (int64_t k = 0; k < dim_; ++k) features[x * dim_ + k] = s[k] / w;
    invalid[x] = invalid_[p];
  }
}

void StripAccumulator::release_until(int64_t row) {
  const int64_t drop = std::clamp<int64_t>(row - first_row_, 0, rows_);
  const auto pixels = static_cast<std::ptrdiff_t>(drop * width_);
  sum_.erase(sum_.begin(), sum_.begin() + pixels * dim_);
  weight_.erase(weight_.begin(), weight_.begin() + pixels);
  invalid_.erase(invalid_.begin(), invalid_.begin() + pixels);
  first_row_ += drop;
  rows_ -= drop;
}

}  // namespace rsd::downstream
