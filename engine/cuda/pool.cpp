#include "engine/ops/pool_kernels.h"

#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/dispatch.h"
#include "kernels/pool.cuh"

namespace rsd::cuda {

namespace {

// Dimensions as the kernels take them; the op checked that each fits in an int.
int as_int(int64_t v) { return static_cast<int>(v); }

cudaStream_t stream_of(const Tensor& t) { return context(t.device().index).stream; }

}  // namespace

void max_pool2d_forward(const Tensor& x, Tensor& y, Tensor& argmax, int kernel, int stride, int padding) {
  dispatch_float(x.dtype(), "max_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::maxpool2d_forward<T>(static_cast<const T*>(x.raw()), static_cast<T*>(y.raw()), argmax.data<int32_t>(),
                                  as_int(x.dim(0)), as_int(x.dim(1)), as_int(x.dim(2)), as_int(x.dim(3)), kernel,
                                  kernel, stride, padding, as_int(y.dim(1)), as_int(y.dim(2)), stream_of(x));
  });
  RSD_CUDA_CHECK_LAUNCH("max_pool2d ", x.describe(), " -> ", y.describe());
}

void max_pool2d_backward(const Tensor& gy, const Tensor& argmax, Tensor& gx, int kernel, int stride, int padding) {
  dispatch_float(gy.dtype(), "max_pool2d backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::maxpool2d_backward<T>(static_cast<const T*>(gy.raw()), argmax.data<int32_t>(), static_cast<T*>(gx.raw()),
                                   as_int(gx.dim(0)), as_int(gx.dim(1)), as_int(gx.dim(2)), as_int(gx.dim(3)), kernel,
                                   kernel, stride, padding, as_int(gy.dim(1)), as_int(gy.dim(2)), stream_of(gy));
  });
  RSD_CUDA_CHECK_LAUNCH("max_pool2d backward ", gy.describe(), " -> ", gx.describe());
}

void global_avg_pool_forward(const Tensor& x, Tensor& y) {
  dispatch_float(x.dtype(), "global_avg_pool", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::global_avgpool_forward<T>(static_cast<const T*>(x.raw()), static_cast<T*>(y.raw()), as_int(x.dim(0)),
                                       as_int(x.dim(1) * x.dim(2)), as_int(x.dim(3)), stream_of(x));
  });
  RSD_CUDA_CHECK_LAUNCH("global_avg_pool ", x.describe());
}

void global_avg_pool_backward(const Tensor& gy, Tensor& gx) {
  dispatch_float(gy.dtype(), "global_avg_pool backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::global_avgpool_backward<T>(static_cast<const T*>(gy.raw()), static_cast<T*>(gx.raw()), as_int(gx.dim(0)),
                                        as_int(gx.dim(1) * gx.dim(2)), as_int(gx.dim(3)), stream_of(gy));
  });
  RSD_CUDA_CHECK_LAUNCH("global_avg_pool backward ", gy.describe(), " -> ", gx.describe());
}

}  // namespace rsd::cuda
