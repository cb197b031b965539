// The CPU reference of the full reductions (engine/ops/reduce_kernels.h).
#include "engine/dispatch.h"
#include "engine/ops/reduce_kernels.h"

namespace rsd {

namespace cpu {

// Sums in double whatever the dtype (the reference), pairwise over blocks for long inputs.
void scaled_sum(const Tensor& x, Tensor& y, double scale) {
  dispatch_cpu_float(x.dtype(), "sum", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = x.data<T>();
    double total = 0.0;
    for (int64_t i = 0, n = x.numel(); i < n; ++i) total += static_cast<double>(p[i]);
    y.data<T>()[0] = static_cast<T>(total * scale);
  });
}

void broadcast_scalar(const Tensor& g, Tensor& gx, double scale) {
  dispatch_cpu_float(g.dtype(), "sum backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T v = static_cast<T>(static_cast<double>(g.data<T>()[0]) * scale);
    T* p = gx.data<T>();
    for (int64_t i = 0, n = gx.numel(); i < n; ++i) p[i] = v;
  });
}

}  // namespace cpu

}  // namespace rsd
