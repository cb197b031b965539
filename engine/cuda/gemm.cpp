#include "engine/cuda/gemm.h"

#include <library_types.h>

#include <algorithm>
#include <cstdint>

#include "engine/cuda/check.h"
#include "engine/cuda/context.h"

namespace rsd::cuda {

namespace {

cudaDataType_t cublas_type(const char* op, const Tensor& t) {
  switch (t.dtype()) {
    case DType::f32: return CUDA_R_32F;
    case DType::bf16: return CUDA_R_16BF;
    default: break;
  }
  fail(op, ": GEMM on CUDA takes f32 or bf16, got ", t.describe());
}

}  // namespace

void gemm(const char* op, const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& c, float alpha,
          float beta) {
  const auto shapes = [&] {
    return str_cat(op, " gemm: a ", a.describe(), trans_a ? "^T" : "", ", b ", b.describe(), trans_b ? "^T" : "",
                   ", c ", c.describe());
  };
  RSD_CHECK(a.ndim() == 2 && b.ndim() == 2 && c.ndim() == 2, shapes(), ": operands must be 2-D");
  RSD_CHECK(a.is_cuda() && b.device() == a.device() && c.device() == a.device(), shapes(),
            ": operands must be on one CUDA device");
  RSD_CHECK(a.dtype() == b.dtype() && a.dtype() == c.dtype(), shapes(), ": operands must share a dtype");
  // Stored row-major: a is (M,K), or (K,M) when trans_a; b is (K,N), or (N,K) when trans_b.
  const int64_t m = trans_a ? a.dim(1) : a.dim(0);
  const int64_t k = trans_a ? a.dim(0) : a.dim(1);
  const int64_t n = trans_b ? b.dim(0) : b.dim(1);
  const int64_t kb = trans_b ? b.dim(1) : b.dim(0);
  RSD_CHECK(k == kb && c.dim(0) == m && c.dim(1) == n, shapes(), ": inner or outer sizes do not match");
  RSD_CHECK(m <= INT32_MAX && n <= INT32_MAX && k <= INT32_MAX, shapes(), ": too large for cuBLAS");
  if (m == 0 || n == 0) return;
  const cudaDataType_t type = cublas_type(op, a);
  DeviceContext& ctx = context(a.device().index);
  // cuBLAS is column-major; a row-major (R,C) matrix is its column-major (C,R) transpose. So the
  // row-major C = op(A) op(B) is computed as the column-major C^T = op(B)^T op(A)^T (N,M), and the
  // leading dimension of each operand is its stored row length (at least 1, as cuBLAS requires
  // even when K = 0).
  const int lda = static_cast<int>(std::max<int64_t>(1, a.dim(1)));
  const int ldb = static_cast<int>(std::max<int64_t>(1, b.dim(1)));
  const int ldc = static_cast<int>(n);
  RSD_CUBLAS_CHECK(cublasGemmEx(ctx.cublas, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                                static_cast<int>(n), static_cast<int>(m), static_cast<int>(k), &alpha, b.raw(), type,
                                ldb, a.raw(), type, lda, &beta, c.raw(), type, ldc, CUBLAS_COMPUTE_32F,
                                CUBLAS_GEMM_DEFAULT),
                   shapes());
}

}  // namespace rsd::cuda
