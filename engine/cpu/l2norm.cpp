// The CPU reference of l2_normalize (engine/ops/l2norm_kernels.h).
#include <algorithm>
#include <cmath>

#include "engine/dispatch.h"
#include "engine/ops/l2norm_kernels.h"

namespace rsd {

// The CPU reference; norms (R) have x's dtype here (f32 on CUDA). Sums run in double.
namespace cpu {

void l2_normalize_forward(const Tensor& x, Tensor& y, Tensor& norms, double eps) {
  dispatch_cpu_float(x.dtype(), "l2_normalize", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t R = x.dim(0), D = x.dim(1);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    T* pn = norms.data<T>();
    for (int64_t r = 0; r < R; ++r) {
      const T* row = px + r * D;
      double ss = 0.0;
      for (int64_t d = 0; d < D; ++d) ss += static_cast<double>(row[d]) * static_cast<double>(row[d]);
      const double norm = std::sqrt(ss);
      const double inv = 1.0 / std::max(norm, eps);
      pn[r] = static_cast<T>(norm);
      for (int64_t d = 0; d < D; ++d) py[r * D + d] = static_cast<T>(static_cast<double>(row[d]) * inv);
    }
  });
}

void l2_normalize_backward(const Tensor& gy, const Tensor& y, const Tensor& norms, Tensor& gx, double eps) {
  dispatch_cpu_float(y.dtype(), "l2_normalize backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t R = y.dim(0), D = y.dim(1);
    const T* pg = gy.data<T>();
    const T* py = y.data<T>();
    const T* pn = norms.data<T>();
    T* out = gx.data<T>();
    for (int64_t r = 0; r < R; ++r) {
      const double norm = static_cast<double>(pn[r]);
      // Below eps the forward divided by the constant eps: the projection term vanishes.
      double dot = 0.0;
      if (norm > eps)
        for (int64_t d = 0; d < D; ++d) dot += static_cast<double>(pg[r * D + d]) * static_cast<double>(py[r * D + d]);
      const double inv = 1.0 / std::max(norm, eps);
      for (int64_t d = 0; d < D; ++d) {
        const int64_t i = r * D + d;
        out[i] = static_cast<T>((static_cast<double>(pg[i]) - static_cast<double>(py[i]) * dot) * inv);
      }
    }
  });
}

}  // namespace cpu

}  // namespace rsd
