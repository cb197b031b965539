// The CPU reference of byol_cosine_loss (engine/ops/cosine_loss_kernels.h).
#include "engine/cpu/cosine_loss_rows.h"
#include "engine/dispatch.h"
#include "engine/ops/cosine_loss_kernels.h"

namespace rsd {

// The CPU reference: p, z (B, D) of one dtype (f32 or f64), sums in double. Writes what is asked
// for: loss {1} = mean_i (2 - 2 cos_i), and dp (B, D) = g / B * the row's gradient
// (engine/cpu/cosine_loss_rows.h).
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
    for (int64_t i = 0; i < B; ++i)
      total += cosine_loss_row(pp + i * D, pz + i * D, dp != nullptr ? dp->data<T>() + i * D : nullptr, D, eps, scale);
    if (loss != nullptr) loss->data<T>()[0] = static_cast<T>(total / static_cast<double>(B));
  });
}

}  // namespace cpu

}  // namespace rsd
