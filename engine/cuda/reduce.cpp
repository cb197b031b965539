#include "engine/ops/reduce_kernels.h"

#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/dispatch.h"
#include "kernels/elementwise.cuh"
#include "kernels/reduce.cuh"

namespace rsd::cuda {

void scaled_sum(const Tensor& x, Tensor& y, double scale) {
  Tensor workspace = Tensor::empty({static_cast<int64_t>(kernels::reduce_workspace_bytes(x.numel()))}, DType::u8,
                                   x.device());
  dispatch_float(x.dtype(), "sum", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::reduce_sum<T>(static_cast<const T*>(x.raw()), static_cast<T*>(y.raw()), x.numel(),
                           static_cast<float>(scale), workspace.raw(), context(x.device().index).stream);
  });
  RSD_CUDA_CHECK_LAUNCH("sum ", x.describe());
}

void broadcast_scalar(const Tensor& g, Tensor& gx, double scale) {
  dispatch_float(g.dtype(), "sum backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::fill_from_scalar<T>(static_cast<const T*>(g.raw()), static_cast<float>(scale),
                                 static_cast<T*>(gx.raw()), gx.numel(), context(g.device().index).stream);
  });
  RSD_CUDA_CHECK_LAUNCH("sum backward ", gx.describe());
}

}  // namespace rsd::cuda
