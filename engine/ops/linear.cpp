#include "engine/ops/linear.h"

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/cpu/gemm.h"
#include "engine/dispatch.h"
#include "engine/ops/checks.h"

#if RSD_HAVE_CUDA
#include "engine/cuda/linear.h"
#endif

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

namespace {

void check_linear_args(const Tensor& x, const Tensor& w, const Tensor& b) {
  check::defined("linear", "x", x);
  check::defined("linear", "w", w);
  check::ndim("linear", "x (N, in)", x, 2);
  check::ndim("linear", "w (out, in)", w, 2);
  check::same_device("linear", x, w);
  check::same_dtype("linear", x, w);
  check::floating("linear", "x", x);
  RSD_CHECK(x.dim(1) == w.dim(1), "linear: x ", x.describe(), " and w ", w.describe(),
            " differ in input features (", x.dim(1), " vs ", w.dim(1), ")");
  if (!b.defined()) return;
  check::ndim("linear", "b (out)", b, 1);
  check::same_device("linear", w, b);
  check::same_dtype("linear", w, b);
  RSD_CHECK(b.dim(0) == w.dim(0), "linear: b ", b.describe(), " does not match the ", w.dim(0),
            " outputs of w ", w.describe());
}

void linear_backward(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& gy) {
  if (x.requires_grad()) {
    Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
    if (x.is_cuda()) {
      RSD_CUDA_CALL(cuda::linear_backward_input(gy, w, dx));
    } else {
      cpu::linear_backward_input(gy, w, dx);
    }
    accumulate_grad(x, dx);
  }
  if (w.requires_grad()) {
    Tensor dw = Tensor::empty(w.shape(), w.dtype(), w.device());
    if (w.is_cuda()) {
      RSD_CUDA_CALL(cuda::linear_backward_weight(gy, x, dw));
    } else {
      cpu::linear_backward_weight(gy, x, dw);
    }
    accumulate_grad(w, dw);
  }
  if (b.requires_grad()) {  // false when there is no bias
    Tensor db = Tensor::empty(b.shape(), b.dtype(), b.device());
    if (b.is_cuda()) {
      RSD_CUDA_CALL(cuda::linear_backward_bias(gy, db));
    } else {
      cpu::linear_backward_bias(gy, db);
    }
    accumulate_grad(b, db);
  }
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  check_linear_args(x, w, b);
  Tensor y = Tensor::empty({x.dim(0), w.dim(0)}, x.dtype(), x.device());
  if (x.is_cuda()) {
    RSD_CUDA_CALL(cuda::linear_forward(x, w, b, y));
  } else {
    cpu::linear_forward(x, w, b, y);
  }
  if (needs_grad({x, w, b})) {  // an undefined b never requires grad
    record("linear", {y}, [x, w, b, y] { linear_backward(x, w, b, y.grad()); });
  }
  return y;
}

}  // namespace rsd
