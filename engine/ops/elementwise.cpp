#include "engine/ops/elementwise.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/dispatch.h"
#include "engine/ops/checks.h"

#if RSD_HAVE_CUDA
#include "engine/cuda/elementwise.h"
#endif

namespace rsd {

namespace cpu {

void relu_forward(const Tensor& x, Tensor& y) {
  dispatch_cpu_float(x.dtype(), "relu", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = x.data<T>();
    T* out = y.data<T>();
    for (int64_t i = 0, n = x.numel(); i < n; ++i) out[i] = in[i] > T(0) ? in[i] : T(0);
  });
}

void relu_backward(const Tensor& y, const Tensor& gy, Tensor& gx) {
  dispatch_cpu_float(y.dtype(), "relu backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* out = y.data<T>();
    const T* g = gy.data<T>();
    T* gi = gx.data<T>();
    // Both values loaded unconditionally so the compiler emits a select, not a branch that
    // random signs would mispredict half the time.
    for (int64_t i = 0, n = y.numel(); i < n; ++i) {
      const T gv = g[i];
      gi[i] = out[i] > T(0) ? gv : T(0);
    }
  });
}

void exp_forward(const Tensor& x, Tensor& y) {
  dispatch_cpu_float(x.dtype(), "exp", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = x.data<T>();
    T* out = y.data<T>();
    for (int64_t i = 0, n = x.numel(); i < n; ++i) out[i] = std::exp(in[i]);
  });
}

void exp_backward(const Tensor& y, const Tensor& gy, Tensor& gx) {
  dispatch_cpu_float(y.dtype(), "exp backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* out = y.data<T>();
    const T* g = gy.data<T>();
    T* gi = gx.data<T>();
    for (int64_t i = 0, n = y.numel(); i < n; ++i) gi[i] = g[i] * out[i];
  });
}

void scale(const Tensor& x, double s, Tensor& y) {
  dispatch_cpu_float(x.dtype(), "scale", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = x.data<T>();
    T* out = y.data<T>();
    const T f = static_cast<T>(s);
    for (int64_t i = 0, n = x.numel(); i < n; ++i) out[i] = f * in[i];
  });
}

void add(const Tensor& a, const Tensor& b, Tensor& y) {
  dispatch_cpu_float(a.dtype(), "add", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* py = y.data<T>();
    for (int64_t i = 0, n = a.numel(); i < n; ++i) py[i] = pa[i] + pb[i];
  });
}

void accumulate(Tensor& dst, const Tensor& src) {
  dispatch_cpu_float(dst.dtype(), "accumulate", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* d = dst.data<T>();
    const T* s = src.data<T>();
    for (int64_t i = 0, n = dst.numel(); i < n; ++i) d[i] += s[i];
  });
}

}  // namespace cpu

Tensor relu(const Tensor& x) {
  check::defined("relu", "x", x);
  check::floating("relu", "x", x);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (x.is_cuda()) {
    RSD_CUDA_CALL(cuda::relu_forward(x, y));
  } else {
    cpu::relu_forward(x, y);
  }
  if (needs_grad({x})) {
    record("relu", {y}, [x, y] {
      Tensor gx = Tensor::empty(x.shape(), x.dtype(), x.device());
      if (x.is_cuda()) {
        RSD_CUDA_CALL(cuda::relu_backward(y, y.grad(), gx));
      } else {
        cpu::relu_backward(y, y.grad(), gx);
      }
      accumulate_grad(x, gx);
    });
  }
  return y;
}

Tensor exp(const Tensor& x) {
  check::defined("exp", "x", x);
  check::floating("exp", "x", x);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (x.is_cuda()) {
    RSD_CUDA_CALL(cuda::exp_forward(x, y));
  } else {
    cpu::exp_forward(x, y);
  }
  if (needs_grad({x})) {
    record("exp", {y}, [x, y] {
      Tensor gx = Tensor::empty(x.shape(), x.dtype(), x.device());
      if (x.is_cuda()) {
        RSD_CUDA_CALL(cuda::exp_backward(y, y.grad(), gx));
      } else {
        cpu::exp_backward(y, y.grad(), gx);
      }
      accumulate_grad(x, gx);
    });
  }
  return y;
}

namespace {
Tensor scaled(const Tensor& x, double s) {
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (x.is_cuda()) {
    RSD_CUDA_CALL(cuda::scale(x, s, y));
  } else {
    cpu::scale(x, s, y);
  }
  return y;
}
}  // namespace

Tensor scale(const Tensor& x, double s) {
  check::defined("scale", "x", x);
  check::floating("scale", "x", x);
  Tensor y = scaled(x, s);
  if (needs_grad({x})) {
    record("scale", {y}, [x, y, s] { accumulate_grad(x, scaled(y.grad(), s)); });
  }
  return y;
}

Tensor add(const Tensor& a, const Tensor& b) {
  check::defined("add", "a", a);
  check::defined("add", "b", b);
  check::same_device("add", a, b);
  check::same_dtype("add", a, b);
  check::same_shape("add", a, b);
  check::floating("add", "a", a);
  Tensor y = Tensor::empty(a.shape(), a.dtype(), a.device());
  if (a.is_cuda()) {
    RSD_CUDA_CALL(cuda::add(a, b, y));
  } else {
    cpu::add(a, b, y);
  }
  if (needs_grad({a, b})) {
    record("add", {y}, [a, b, y] {
      accumulate_grad(a, y.grad());
      accumulate_grad(b, y.grad());
    });
  }
  return y;
}

void accumulate_(Tensor& dst, const Tensor& src) {
  check::same_device("accumulate", dst, src);
  check::same_dtype("accumulate", dst, src);
  check::same_shape("accumulate", dst, src);
  if (dst.is_cuda()) {
    RSD_CUDA_CALL(cuda::accumulate(dst, src));
  } else {
    cpu::accumulate(dst, src);
  }
}

}  // namespace rsd
