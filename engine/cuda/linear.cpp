#include "engine/ops/linear_kernels.h"

#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/dispatch.h"
#include "engine/cuda/gemm.h"
#include "kernels/linear.cuh"
#include "kernels/reduce.cuh"

namespace rsd::cuda {

void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) {
  gemm("linear", x, false, w, true, y);
  if (!b.defined()) return;
  // y (N,out) += b (out) on every row: one read and write of y, where a rank-1 GEMM with beta 1
  // also needed a column of ones filled for it. cuBLASLt's bias epilogue would save that pass, at
  // the price of a second GEMM interface (descriptors, layouts, heuristics) beside cublasGemmEx.
  dispatch_float(y.dtype(), "linear bias", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::linear_add_bias<T>(static_cast<T*>(y.raw()), static_cast<const T*>(b.raw()), y.dim(0), y.dim(1),
                                context(y.device().index).stream);
  });
  RSD_CUDA_CHECK_LAUNCH("linear bias ", b.describe(), " -> ", y.describe());
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
