// The CUDA implementation of the element-wise kernels (engine/ops/elementwise_kernels.h): dtype
// dispatch (f32, bf16) and the launchers of kernels/elementwise.cu.
#include "engine/ops/elementwise_kernels.h"

#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/dispatch.h"
#include "kernels/elementwise.cuh"

namespace rsd::cuda {

namespace {

template <typename T>
const T* in(const Tensor& t) {
  return static_cast<const T*>(t.raw());
}

template <typename T>
T* out(Tensor& t) {
  return static_cast<T*>(t.raw());
}

// launch(a, y, n, stream) with the pointers typed by a's dtype.
template <typename Launch>
void map1(const char* op, const Tensor& a, Tensor& y, Launch launch) {
  dispatch_float(a.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch(in<T>(a), out<T>(y), a.numel(), context(a.device().index).stream);
  });
  RSD_CUDA_CHECK_LAUNCH(op, " ", a.describe());
}

// launch(a, b, y, n, stream).
template <typename Launch>
void map2(const char* op, const Tensor& a, const Tensor& b, Tensor& y, Launch launch) {
  dispatch_float(a.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch(in<T>(a), in<T>(b), out<T>(y), a.numel(), context(a.device().index).stream);
  });
  RSD_CUDA_CHECK_LAUNCH(op, " ", a.describe(), " and ", b.describe());
}

}  // namespace

void relu_forward(const Tensor& x, Tensor& y) {
  map1("relu", x, y, [](auto... args) { kernels::relu_forward(args...); });
}

void relu_backward(const Tensor& y, const Tensor& gy, Tensor& gx) {
  map2("relu backward", y, gy, gx, [](auto... args) { kernels::relu_backward(args...); });
}

void gelu_forward(const Tensor& x, Tensor& y) {
  map1("gelu", x, y, [](auto... args) { kernels::gelu_forward(args...); });
}

void gelu_backward(const Tensor& x, const Tensor& gy, Tensor& gx) {
  map2("gelu backward", x, gy, gx, [](auto... args) { kernels::gelu_backward(args...); });
}

void exp_forward(const Tensor& x, Tensor& y) {
  map1("exp", x, y, [](auto... args) { kernels::exp_forward(args...); });
}

void exp_backward(const Tensor& y, const Tensor& gy, Tensor& gx) {
  map2("exp backward", y, gy, gx, [](auto... args) { kernels::exp_backward(args...); });
}

void scale(const Tensor& x, double s, Tensor& y) {
  map1("scale", x, y, [s](auto a, auto b, int64_t n, cudaStream_t stream) {
    kernels::scale(a, static_cast<float>(s), b, n, stream);
  });
}

void add(const Tensor& a, const Tensor& b, Tensor& y) {
  map2("add", a, b, y, [](auto... args) { kernels::add(args...); });
}

// Two launches (add, then relu in place): the fused form matters on the CPU, where each pass is
// memory-bound on few cores; on a GPU both are a small share of a step.
void add_relu_forward(const Tensor& a, const Tensor& b, Tensor& y) {
  add(a, b, y);
  relu_forward(y, y);
}

void accumulate(Tensor& dst, const Tensor& src) {
  dispatch_float(dst.dtype(), "accumulate", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::accumulate<T>(out<T>(dst), in<T>(src), dst.numel(), context(dst.device().index).stream);
  });
  RSD_CUDA_CHECK_LAUNCH("accumulate into ", dst.describe());
}

}  // namespace rsd::cuda
