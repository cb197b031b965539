#include "engine/ops/reduce.h"

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/dispatch.h"
#include "engine/ops/checks.h"

#if RSD_HAVE_CUDA
#include "engine/cuda/reduce.h"
#endif

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

namespace {

Tensor scaled_sum_op(const char* op, const Tensor& x, double scale) {
  check::defined(op, "x", x);
  check::floating(op, "x", x);
  RSD_CHECK(x.numel() > 0, op, ": empty input ", x.describe());
  Tensor y = Tensor::empty({1}, x.dtype(), x.device());
  if (x.is_cuda()) {
    RSD_CUDA_CALL(cuda::scaled_sum(x, y, scale));
  } else {
    cpu::scaled_sum(x, y, scale);
  }
  if (needs_grad({x})) {
    record(op, {y}, [x, y, scale] {
      Tensor gx = Tensor::empty(x.shape(), x.dtype(), x.device());
      if (x.is_cuda()) {
        RSD_CUDA_CALL(cuda::broadcast_scalar(y.grad(), gx, scale));
      } else {
        cpu::broadcast_scalar(y.grad(), gx, scale);
      }
      accumulate_grad(x, gx);
    });
  }
  return y;
}

}  // namespace

Tensor sum(const Tensor& x) { return scaled_sum_op("sum", x, 1.0); }

Tensor mean(const Tensor& x) {
  check::defined("mean", "x", x);
  return scaled_sum_op("mean", x, 1.0 / static_cast<double>(x.numel()));
}

}  // namespace rsd
