// The CPU reference of the element-wise ops (engine/ops/elementwise_kernels.h): one loop each, in
// the tensor's dtype (f32 or f64); gelu evaluates in double, so the f32 reference rounds once.
#include <cmath>

#include "engine/dispatch.h"
#include "engine/ops/elementwise_kernels.h"

namespace rsd::cpu {

namespace {

// y[i] = f(a[i]) over every element (y may be a); f is generic over the element type T.
template <typename F>
void map1(const char* op, const Tensor& a, Tensor& y, F f) {
  dispatch_cpu_float(a.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* pa = a.data<T>();
    T* py = y.data<T>();
    for (int64_t i = 0, n = a.numel(); i < n; ++i) py[i] = f(pa[i]);
  });
}

// y[i] = f(a[i], b[i]) over every element (y may be a or b).
template <typename F>
void map2(const char* op, const Tensor& a, const Tensor& b, Tensor& y, F f) {
  dispatch_cpu_float(a.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* py = y.data<T>();
    for (int64_t i = 0, n = a.numel(); i < n; ++i) py[i] = f(pa[i], pb[i]);
  });
}

constexpr double kInvSqrt2 = 0.7071067811865475244;
constexpr double kInvSqrt2Pi = 0.3989422804014326779;  // 1 / sqrt(2 pi)

double normal_cdf(double v) { return 0.5 * (1.0 + std::erf(v * kInvSqrt2)); }

}  // namespace

// NaN is not greater than 0: it becomes 0, as on CUDA.
void relu_forward(const Tensor& x, Tensor& y) {
  map1("relu", x, y, [](auto v) { return v > decltype(v)(0) ? v : decltype(v)(0); });
}

// Both values are loaded unconditionally, so the compiler emits a select, not a branch that random
// signs would mispredict half the time.
void relu_backward(const Tensor& y, const Tensor& gy, Tensor& gx) {
  map2("relu backward", y, gy, gx, [](auto out, auto g) { return out > decltype(out)(0) ? g : decltype(g)(0); });
}

// y = x Phi(x).
void gelu_forward(const Tensor& x, Tensor& y) {
  map1("gelu", x, y, [](auto v) {
    const double d = static_cast<double>(v);
    return static_cast<decltype(v)>(d * normal_cdf(d));
  });
}

// d/dx x Phi(x) = Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
void gelu_backward(const Tensor& x, const Tensor& gy, Tensor& gx) {
  map2("gelu backward", x, gy, gx, [](auto v, auto g) {
    const double d = static_cast<double>(v);
    const double slope = normal_cdf(d) + d * kInvSqrt2Pi * std::exp(-0.5 * d * d);
    return static_cast<decltype(v)>(static_cast<double>(g) * slope);
  });
}

void exp_forward(const Tensor& x, Tensor& y) {
  map1("exp", x, y, [](auto v) { return std::exp(v); });
}

void exp_backward(const Tensor& y, const Tensor& gy, Tensor& gx) {
  map2("exp backward", y, gy, gx, [](auto out, auto g) { return g * out; });
}

void scale(const Tensor& x, double s, Tensor& y) {
  map1("scale", x, y, [s](auto v) { return static_cast<decltype(v)>(s) * v; });
}

void add(const Tensor& a, const Tensor& b, Tensor& y) {
  map2("add", a, b, y, [](auto u, auto v) { return u + v; });
}

void add_relu_forward(const Tensor& a, const Tensor& b, Tensor& y) {
  map2("add_relu", a, b, y, [](auto u, auto v) {
    const auto s = u + v;
    return s > decltype(s)(0) ? s : decltype(s)(0);
  });
}

void accumulate(Tensor& dst, const Tensor& src) {
  map2("accumulate", dst, src, dst, [](auto d, auto s) { return d + s; });
}

}  // namespace rsd::cpu
