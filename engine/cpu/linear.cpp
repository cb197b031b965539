// The CPU reference of linear (engine/ops/linear_kernels.h), on the BLAS GEMM of engine/cpu/gemm.h.
#include "engine/cpu/gemm.h"
#include "engine/dispatch.h"
#include "engine/ops/linear_kernels.h"

namespace rsd {

namespace cpu {

// y (N,out) = x (N,in) w^T (out,in) + b (out).
void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) {
  dispatch_cpu_float(x.dtype(), "linear", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t n = x.dim(0), in = x.dim(1), out = w.dim(0);
    gemm<T>(false, true, n, out, in, T(1), x.data<T>(), in, w.data<T>(), in, T(0), y.data<T>(), out);
    if (!b.defined()) return;
    const T* bias = b.data<T>();
    T* py = y.data<T>();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < out; ++j) py[i * out + j] += bias[j];
  });
}

// dx (N,in) = gy (N,out) w (out,in).
void linear_backward_input(const Tensor& gy, const Tensor& w, Tensor& dx) {
  dispatch_cpu_float(gy.dtype(), "linear backward (input)", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t n = gy.dim(0), out = w.dim(0), in = w.dim(1);
    gemm<T>(false, false, n, in, out, T(1), gy.data<T>(), out, w.data<T>(), in, T(0), dx.data<T>(), in);
  });
}

// dw (out,in) = gy^T (out,N) x (N,in).
void linear_backward_weight(const Tensor& gy, const Tensor& x, Tensor& dw) {
  dispatch_cpu_float(gy.dtype(), "linear backward (weight)", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t n = x.dim(0), in = x.dim(1), out = gy.dim(1);
    gemm<T>(true, false, out, in, n, T(1), gy.data<T>(), out, x.data<T>(), in, T(0), dw.data<T>(), in);
  });
}

// db (out) = column sums of gy (N,out).
void linear_backward_bias(const Tensor& gy, Tensor& db) {
  dispatch_cpu_float(gy.dtype(), "linear backward (bias)", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t n = gy.dim(0), out = gy.dim(1);
    const T* g = gy.data<T>();
    T* pb = db.data<T>();
    for (int64_t j = 0; j < out; ++j) pb[j] = T(0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < out; ++j) pb[j] += g[i * out + j];
  });
}

}  // namespace cpu

}  // namespace rsd
