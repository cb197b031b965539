#include "engine/onednn/conv_dims.h"

#include <cstdlib>

#include "engine/ops/conv2d.h"

namespace rsd::onednn {

ConvDims conv_dims(const Shape& xs, const Shape& ws, int stride, int padding) {
  const int64_t n = xs[0], h = xs[1], wd = xs[2], c = xs[3], k = ws[0], r = ws[1], s = ws[2];
  const int64_t p = conv2d_output_size(h, r, stride, padding), q = conv2d_output_size(wd, s, stride, padding);
  ConvDims d;
  d.x = {n, c, h, wd};
  d.w = {k, c, r, s};
  d.y = {n, k, p, q};
  d.strides = {stride, stride};
  d.pad_l = {padding, padding};
  // The right/bottom padding that makes oneDNN's output size rsd's (floor division may leave
  // part of the padding unused).
  d.pad_r = {(p - 1) * stride + r - h - padding, (q - 1) * stride + s - wd - padding};
  d.key = str_cat(n, ",", h, ",", wd, ",", c, ",", k, ",", r, ",", s, ",", stride, ",", padding);
  return d;
}

bool winograd_allowed() {
  static const bool allowed = [] {
    const char* env = std::getenv("RSD_WINOGRAD");
    return env == nullptr || std::string(env) != "0";
  }();
  return allowed;
}

bool winograd_shape(const ConvDims& d) {
  return d.w[2] == 3 && d.w[3] == 3 && d.strides[0] == 1 && d.strides[1] == 1 && d.w[0] >= 16 && d.w[1] >= 16;
}

}  // namespace rsd::onednn
