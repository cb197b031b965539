// byol_cosine_loss on the fast CPU backend (engine/ops/cosine_loss_kernels.h): the reference's row
// arithmetic (engine/cpu/cosine_loss_rows.h, in double) with the rows on the OpenMP pool. The
// gradient rows are the reference's exactly; the mean sums the row losses in another order.
#include "engine/cpu/cosine_loss_rows.h"
#include "engine/dispatch.h"
#include "engine/onednn/context.h"
#include "engine/ops/cosine_loss_kernels.h"

namespace rsd::onednn {

void byol_cosine_loss(const Tensor& p, const Tensor& z, Tensor* loss, Tensor* dp, const Tensor* upstream, double eps,
                      Variant variant) {
  apply_thread_budget();
  const double g = upstream != nullptr ? upstream->item() : 1.0;
  dispatch_cpu_float(p.dtype(), "byol_cosine_loss", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t B = p.dim(0), D = p.dim(1);
    const T* pp = p.data<T>();
    const T* pz = z.data<T>();
    T* pdp = dp != nullptr ? dp->data<T>() : nullptr;
    const double scale = g / static_cast<double>(B);
    double total = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : total)
    for (int64_t i = 0; i < B; ++i)
      total += cpu::cosine_loss_row(pp + i * D, pz + i * D, pdp != nullptr ? pdp + i * D : nullptr, D, eps, scale);
    if (loss != nullptr) loss->data<T>()[0] = static_cast<T>(total / static_cast<double>(B));
  });
}

}  // namespace rsd::onednn
