// The pooling ops on the fast CPU backend (engine/ops/pool_kernels.h): the reference's loops
// (engine/cpu/pool_loops.h, so the results are bit-identical, argmax included, and either
// backend's backward reads either's forward) on the OpenMP pool that oneDNN's primitives use,
// instead of one thread while the pool spins. Max pooling forward splits by output row (a dense
// embedding pools one large image), its backward by image (windows overlap within one).
#include "engine/cpu/pool_loops.h"
#include "engine/dispatch.h"
#include "engine/onednn/context.h"
#include "engine/ops/pool_kernels.h"

namespace rsd::onednn {

namespace {

cpu::PoolShape pool_shape(const Tensor& x, const Tensor& y, int kernel, int stride, int padding) {
  return {x.dim(0), x.dim(1), x.dim(2), x.dim(3), y.dim(1), y.dim(2), kernel, stride, padding};
}

}  // namespace

void max_pool2d_forward(const Tensor& x, Tensor& y, Tensor& argmax, int kernel, int stride, int padding) {
  apply_thread_budget();
  dispatch_cpu_float(x.dtype(), "max_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const cpu::PoolShape s = pool_shape(x, y, kernel, stride, padding);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    int32_t* pa = argmax.data<int32_t>();
#pragma omp parallel for schedule(static)
    for (int64_t np = 0; np < s.N * s.P; ++np) cpu::max_pool_row(px, py, pa, s, np / s.P, np % s.P);
  });
}

void max_pool2d_backward(const Tensor& gy, const Tensor& argmax, Tensor& gx, int kernel, int stride, int padding) {
  apply_thread_budget();
  dispatch_cpu_float(gy.dtype(), "max_pool2d backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const cpu::PoolShape s = pool_shape(gx, gy, kernel, stride, padding);
    const T* pg = gy.data<T>();
    const int32_t* pa = argmax.data<int32_t>();
    T* out = gx.data<T>();
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < s.N; ++n) cpu::max_pool_backward_image(pg, pa, out, s, n);
  });
}

void global_avg_pool_forward(const Tensor& x, Tensor& y) {
  apply_thread_budget();
  dispatch_cpu_float(x.dtype(), "global_avg_pool", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const int64_t HW = x.dim(1) * x.dim(2), C = x.dim(3);
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < x.dim(0); ++n) cpu::avg_pool_image(px, py, HW, C, n);
  });
}

void global_avg_pool_backward(const Tensor& gy, Tensor& gx) {
  apply_thread_budget();
  dispatch_cpu_float(gy.dtype(), "global_avg_pool backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* pg = gy.data<T>();
    T* out = gx.data<T>();
    const int64_t HW = gx.dim(1) * gx.dim(2), C = gx.dim(3);
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < gx.dim(0); ++n) cpu::avg_pool_backward_image(pg, out, HW, C, n);
  });
}

}  // namespace rsd::onednn
