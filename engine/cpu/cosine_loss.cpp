// The CPU reference of byol_cosine_loss (engine/ops/cosine_loss_kernels.h).
#include <algorithm>
#include <cmath>

#include "engine/dispatch.h"
#include "engine/ops/cosine_loss_kernels.h"

namespace rsd {

// The CPU reference: p, z (B, D) of one dtype (f32 or f64), sums in double. Writes what is asked
// for: loss {1} = mean_i (2 - 2 cos_i), and dp (B, D) = g * dloss/dp with, per row (np = max(|p|,
// eps), nz = max(|z|, eps), cos = <p, z> / (np nz)):
//   dloss/dp = (-2 z / (np nz) + 2 cos p / np^2) / B   where |p| > eps,
//   dloss/dp = (-2 z / (eps nz)) / B                    otherwise (np is the constant eps).
namespace cpu {

void byol_cosine_loss(const Tensor& p, const Tensor& z, Tensor* loss, Tensor* dp, const Tensor* upstream, double eps,
                      Variant variant) {
  const double g = upstream != nullptr ? upstream->item() : 1.0;
  dispatch_cpu_float(p.dtype(), "byol_cosine_loss", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t B = p.dim(0), D = p.dim(1);
    const T* pp = p.data<T>();
    const T* pz = z.data<T>();
    const double scale = g / static_cast<double>(B);
    double total = 0.0;
    for (int64_t i = 0; i < B; ++i) {
      const T* p_row = pp + i * D;
      const T* z_row = pz + i * D;
      double p2 = 0.0, z2 = 0.0, dot = 0.0;
      for (int64_t d = 0; d < D; ++d) {
        const double pv = static_cast<double>(p_row[d]), zv = static_cast<double>(z_row[d]);
        p2 += pv * pv;
        z2 += zv * zv;
        dot += pv * zv;
      }
      const double norm_p = std::sqrt(p2);
      const double np = std::max(norm_p, eps), nz = std::max(std::sqrt(z2), eps);
      const double cos = dot / (np * nz);
      total += 2.0 - 2.0 * cos;
      if (dp == nullptr) continue;
      const double a = -2.0 * scale / (np * nz);
      const double b = norm_p > eps ? 2.0 * scale * cos / (np * np) : 0.0;
      T* out = dp->data<T>() + i * D;
      for (int64_t d = 0; d < D; ++d)
        out[d] = static_cast<T>(a * static_cast<double>(z_row[d]) + b * static_cast<double>(p_row[d]));
    }
    if (loss != nullptr) loss->data<T>()[0] = static_cast<T>(total / static_cast<double>(B));
  });
}

}  // namespace cpu

}  // namespace rsd
