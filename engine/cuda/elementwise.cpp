#include "engine/ops/elementwise_kernels.h"

#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/dispatch.h"
#include "kernels/elementwise.cuh"

namespace rsd::cuda {

void relu_forward(const Tensor& x, Tensor& y) {
  dispatch_float(x.dtype(), "relu", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::relu_forward<T>(static_cast<const T*>(x.raw()), static_cast<T*>(y.raw()), x.numel(),
                             context(x.device().index).stream);
  });
  RSD_CUDA_CHECK_LAUNCH("relu ", x.describe());
}

void relu_backward(const Tensor& y, const Tensor& gy, Tensor& gx) {
  dispatch_float(y.dtype(), "relu backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::relu_backward<T>(static_cast<const T*>(y.raw()), static_cast<const T*>(gy.raw()),
                              static_cast<T*>(gx.raw()), y.numel(), context(y.device().index).stream);
  });
  RSD_CUDA_CHECK_LAUNCH("relu backward ", y.describe());
}

void gelu_forward(const Tensor& x, Tensor& y) {
  dispatch_float(x.dtype(), "gelu", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::gelu_forward<T>(static_cast<const T*>(x.raw()), static_cast<T*>(y.raw()), x.numel(),
                             context(x.device().index).stream);
  });
  RSD_CUDA_CHECK_LAUNCH("gelu ", x.describe());
}

void gelu_backward(const Tensor& x, const Tensor& gy, Tensor& gx) {
  dispatch_float(x.dtype(), "gelu backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::gelu_backward<T>(static_cast<const T*>(x.raw()), static_cast<const T*>(gy.raw()),
                              static_cast<T*>(gx.raw()), x.numel(), context(x.device().index).stream);
  });
  RSD_CUDA_CHECK_LAUNCH("gelu backward ", x.describe());
}

void exp_forward(const Tensor& x, Tensor& y) {
  dispatch_float(x.dtype(), "exp", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::exp_forward<T>(static_cast<const T*>(x.raw()), static_cast<T*>(y.raw()), x.numel(),
                            context(x.device().index).stream);
  });
  RSD_CUDA_CHECK_LAUNCH("exp ", x.describe());
}

void exp_backward(const Tensor& y, const Tensor& gy, Tensor& gx) {
  dispatch_float(y.dtype(), "exp backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::exp_backward<T>(static_cast<const T*>(y.raw()), static_cast<const T*>(gy.raw()),
                             static_cast<T*>(gx.raw()), y.numel(), context(y.device().index).stream);
  });
  RSD_CUDA_CHECK_LAUNCH("exp backward ", y.describe());
}

void scale(const Tensor& x, double s, Tensor& y) {
  dispatch_float(x.dtype(), "scale", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::scale<T>(static_cast<const T*>(x.raw()), static_cast<float>(s), static_cast<T*>(y.raw()), x.numel(),
                      context(x.device().index).stream);
  });
  RSD_CUDA_CHECK_LAUNCH("scale ", x.describe());
}

void add(const Tensor& a, const Tensor& b, Tensor& y) {
  dispatch_float(a.dtype(), "add", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::add<T>(static_cast<const T*>(a.raw()), static_cast<const T*>(b.raw()), static_cast<T*>(y.raw()),
                    a.numel(), context(a.device().index).stream);
  });
  RSD_CUDA_CHECK_LAUNCH("add ", a.describe(), " + ", b.describe());
}

void accumulate(Tensor& dst, const Tensor& src) {
  dispatch_float(dst.dtype(), "accumulate", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::accumulate<T>(static_cast<T*>(dst.raw()), static_cast<const T*>(src.raw()), dst.numel(),
                           context(dst.device().index).stream);
  });
  RSD_CUDA_CHECK_LAUNCH("accumulate into ", dst.describe());
}

}  // namespace rsd::cuda
