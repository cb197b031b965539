#include "engine/ops/linear_kernels.h"

#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/dispatch.h"
#include "engine/cuda/gemm.h"
#include "kernels/reduce.cuh"

namespace rsd::cuda {

void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) {
  gemm("linear", x, false, w, true, y);
  if (!b.defined()) return;
  // y += ones (N,1) b (1,out): the bias broadcast over rows as a rank-1 GEMM, no extra kernel.
  const Tensor ones = Tensor::full({x.dim(0), 1}, 1.0, y.dtype(), y.device());
  gemm("linear bias", ones, false, b.view({1, b.dim(0)}), false, y, 1.0f, 1.0f);
}

void linear_backward_input(const Tensor& gy, const Tensor& w, Tensor& dx) {
  gemm("linear backward (input)", gy, false, w, false, dx);
}

void linear_backward_weight(const Tensor& gy, const Tensor& x, Tensor& dw) {
  gemm("linear backward (weight)", gy, true, x, false, dw);
}

void linear_backward_bias(const Tensor& gy, Tensor& db) {
  const int64_t rows = gy.dim(0);
  const int64_t cols = gy.dim(1);
  const Tensor workspace = Tensor::empty({static_cast<int64_t>(kernels::sum_rows_workspace_bytes(rows, cols))},
                                         DType::u8, gy.device());
  dispatch_float(gy.dtype(), "linear backward (bias)", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::sum_rows<T>(static_cast<const T*>(gy.raw()), static_cast<T*>(db.raw()), rows, cols, workspace.raw(),
                         context(gy.device().index).stream);
  });
  RSD_CUDA_CHECK_LAUNCH("linear backward (bias) ", gy.describe(), " -> ", db.describe());
}

}  // namespace rsd::cuda
