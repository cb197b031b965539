// The CPU reference of the element-wise ops (engine/ops/elementwise_kernels.h): one loop each, in
// the tensor's dtype (f32 or f64).
#include <cmath>

#include "engine/dispatch.h"
#include "engine/ops/elementwise_kernels.h"

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

constexpr double kInvSqrt2 = 0.7071067811865475244;

// Evaluated in double whatever T, so the f32 reference rounds once.
void gelu_forward(const Tensor& x, Tensor& y) {
  dispatch_cpu_float(x.dtype(), "gelu", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = x.data<T>();
    T* out = y.data<T>();
    for (int64_t i = 0, n = x.numel(); i < n; ++i) {
      const double v = static_cast<double>(in[i]);
      out[i] = static_cast<T>(0.5 * v * (1.0 + std::erf(v * kInvSqrt2)));
    }
  });
}

// d/dx x Phi(x) = Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
void gelu_backward(const Tensor& x, const Tensor& gy, Tensor& gx) {
  dispatch_cpu_float(x.dtype(), "gelu backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* in = x.data<T>();
    const T* g = gy.data<T>();
    T* gi = gx.data<T>();
    const double inv_sqrt_2pi = 0.3989422804014326779;  // 1 / sqrt(2 pi)
    for (int64_t i = 0, n = x.numel(); i < n; ++i) {
      const double v = static_cast<double>(in[i]);
      const double cdf = 0.5 * (1.0 + std::erf(v * kInvSqrt2));
      gi[i] = static_cast<T>(static_cast<double>(g[i]) * (cdf + v * inv_sqrt_2pi * std::exp(-0.5 * v * v)));
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

}  // namespace rsd
