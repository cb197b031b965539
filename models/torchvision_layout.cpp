#include "models/torchvision_layout.h"

#include <vector>

namespace rsd::models {

Tensor conv_weight_to_torchvision(const Tensor& w) {
  const int64_t k = w.dim(0), r = w.dim(1), s = w.dim(2), c = w.dim(3);
  const std::vector<double> v = w.to_host_doubles();
  Tensor out = Tensor::empty({k, c, r, s}, DType::f32);
  float* o = out.data<float>();
  for (int64_t ik = 0; ik < k; ++ik)
    for (int64_t ir = 0; ir < r; ++ir)
      for (int64_t is = 0; is < s; ++is)
        for (int64_t ic = 0; ic < c; ++ic)
          o[((ik * c + ic) * r + ir) * s + is] = static_cast<float>(v[static_cast<size_t>(((ik * r + ir) * s + is) * c + ic)]);
  return out;
}

Tensor conv_weight_from_torchvision(const Tensor& w) {
  const int64_t k = w.dim(0), c = w.dim(1), r = w.dim(2), s = w.dim(3);
  const std::vector<double> v = w.to_host_doubles();
  Tensor out = Tensor::empty({k, r, s, c}, DType::f32);
  float* o = out.data<float>();
  for (int64_t ik = 0; ik < k; ++ik)
    for (int64_t ic = 0; ic < c; ++ic)
      for (int64_t ir = 0; ir < r; ++ir)
        for (int64_t is = 0; is < s; ++is)
          o[((ik * r + ir) * s + is) * c + ic] = static_cast<float>(v[static_cast<size_t>(((ik * c + ic) * r + ir) * s + is)]);
  return out;
}

}  // namespace rsd::models
