// Row-major GEMM on cuBLAS for 2-D tensors on one CUDA device, f32 or bf16 (all three the same):
//   c (M,N) = alpha * op(a) op(b) + beta * c,  op(a) (M,K) is a^T when trans_a, op(b) (K,N) likewise.
// Accumulation is f32 (CUBLAS_COMPUTE_32F) for both dtypes; f32 runs without TF32, so results
// match the CPU to f32 rounding. With beta = 0, c is not read. Errors name `op` and the shapes.
#pragma once
#include "engine/tensor.h"

namespace rsd::cuda {

void gemm(const char* op, const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, Tensor& c, float alpha = 1.0f,
          float beta = 0.0f);

}  // namespace rsd::cuda
