#include "engine/ops/l2norm_kernels.h"

#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/dispatch.h"
#include "kernels/l2norm.cuh"

namespace rsd::cuda {

void l2_normalize_forward(const Tensor& x, Tensor& y, Tensor& norms, double eps) {
  dispatch_float(x.dtype(), "l2_normalize", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::l2_normalize_forward<T>(static_cast<const T*>(x.raw()), static_cast<T*>(y.raw()), norms.data<float>(),
                                     x.dim(0), x.dim(1), static_cast<float>(eps), context(x.device().index).stream);
  });
  RSD_CUDA_CHECK_LAUNCH("l2_normalize ", x.describe());
}

void l2_normalize_backward(const Tensor& gy, const Tensor& y, const Tensor& norms, Tensor& gx, double eps) {
  dispatch_float(y.dtype(), "l2_normalize backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::l2_normalize_backward<T>(static_cast<const T*>(gy.raw()), static_cast<const T*>(y.raw()),
                                      norms.data<float>(), static_cast<T*>(gx.raw()), y.dim(0), y.dim(1),
                                      static_cast<float>(eps), context(y.device().index).stream);
  });
  RSD_CUDA_CHECK_LAUNCH("l2_normalize backward ", y.describe());
}

}  // namespace rsd::cuda
