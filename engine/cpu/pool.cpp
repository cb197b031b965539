// The CPU reference of the pooling ops (engine/ops/pool_kernels.h): the loops of
// engine/cpu/pool_loops.h, one image after another.
#include "engine/cpu/pool_loops.h"
#include "engine/dispatch.h"
#include "engine/ops/pool_kernels.h"

namespace rsd::cpu {

namespace {

PoolShape pool_shape(const Tensor& x, const Tensor& y, int kernel, int stride, int padding) {
  return {x.dim(0), x.dim(1), x.dim(2), x.dim(3), y.dim(1), y.dim(2), kernel, stride, padding};
}

}  // namespace

void max_pool2d_forward(const Tensor& x, Tensor& y, Tensor& argmax, int kernel, int stride, int padding) {
  dispatch_cpu_float(x.dtype(), "max_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const PoolShape s = pool_shape(x, y, kernel, stride, padding);
    for (int64_t n = 0; n < s.N; ++n)
      for (int64_t p = 0; p < s.P; ++p) max_pool_row(x.data<T>(), y.data<T>(), argmax.data<int32_t>(), s, n, p);
  });
}

void max_pool2d_backward(const Tensor& gy, const Tensor& argmax, Tensor& gx, int kernel, int stride, int padding) {
  dispatch_cpu_float(gy.dtype(), "max_pool2d backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const PoolShape s = pool_shape(gx, gy, kernel, stride, padding);
    for (int64_t n = 0; n < s.N; ++n)
      max_pool_backward_image(gy.data<T>(), argmax.data<int32_t>(), gx.data<T>(), s, n);
  });
}

void global_avg_pool_forward(const Tensor& x, Tensor& y) {
  dispatch_cpu_float(x.dtype(), "global_avg_pool", [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t n = 0; n < x.dim(0); ++n) avg_pool_image(x.data<T>(), y.data<T>(), x.dim(1) * x.dim(2), x.dim(3), n);
  });
}

void global_avg_pool_backward(const Tensor& gy, Tensor& gx) {
  dispatch_cpu_float(gy.dtype(), "global_avg_pool backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t n = 0; n < gx.dim(0); ++n)
      avg_pool_backward_image(gy.data<T>(), gx.data<T>(), gx.dim(1) * gx.dim(2), gx.dim(3), n);
  });
}

}  // namespace rsd::cpu
