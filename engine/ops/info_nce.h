// InfoNCE loss of the dual-encoder (S1 vs S2) and SimCLR contrastive methods.
//
// Inputs: a (N, D), b (M, D), tau a one-element tensor (the temperature, > 0), offset >= 0 with
// offset + N <= M. Definitions (eps from the options):
//   a_i = A_i / max(|A_i|, eps),  b_j = B_j / max(|B_j|, eps),  S_ij = <a_i, b_j> / tau
//   row direction (A -> B), j over all M columns, the positive of row i is column offset + i:
//     L_row = (1/N) sum_i [ lse_j S_ij - S_{i, offset+i} ]
//   column direction (B -> A), over the N columns that have a positive, k over the N rows of A:
//     L_col = (1/N) sum_i [ lse_k S_{k, offset+i} - S_{i, offset+i} ]
//   symmetric (default): L = (L_row + L_col) / 2;  symmetric = false: L = L_row.
// Gradients flow to a and b (through the L2 normalization) and to tau when it requires grad.
//
// Distributed use: b holds the gathered projections of all ranks and offset is this rank's first
// row in it (rank * N). A rank's loss over the global batch is then two row-direction calls,
//   info_nce_loss(a_local, b_all, tau, rank * N, {symmetric = false})   (A -> B)
// + info_nce_loss(b_local, a_all, tau, rank * N, {symmetric = false})   (B -> A), halved,
// because the column direction of one call would only see this rank's rows of A.
//
// Backends. CPU: the reference, f32 or f64 (the loss has the inputs' dtype; tau f32 or the
// inputs' dtype), S materialized in the input precision, sums in double. CUDA (a, b f32 or bf16,
// tau f32, loss f32): Variant::fused runs the tiled kernels of kernels/info_nce.cu, in the
// manner of FlashAttention / Inf-CL: S tiles on tensor cores (bf16) or in f32 FMA (f32), online
// log-sum-exp, the N x M logits never in memory; peak extra memory O((N + M) D). The column
// direction is a second pass over the N positive columns (see kernels/info_nce.cu for why).
// Variant::plain materializes the logits (cuBLAS GEMMs, the softmax cross-entropy kernels):
// the second check of the fused path and its benchmark baseline. Checking that tau is positive
// reads it on the host (one synchronizing 4-byte copy on CUDA).
#pragma once
#include <cstdint>

#include "engine/op.h"
#include "engine/tensor.h"

namespace rsd {

struct InfoNceOptions {
  bool symmetric = true;
  double eps = 1e-12;
  Variant variant = Variant::fused;
};

// Returns L as a one-element tensor {1} (f32 on CUDA, the inputs' dtype on the CPU) and records
// its backward when a, b or tau requires grad.
Tensor info_nce_loss(const Tensor& a, const Tensor& b, const Tensor& tau, int64_t offset = 0,
                     const InfoNceOptions& opt = {});

// What the backward needs; filled by info_nce_forward. Which members are defined depends on the
// backend and kernel (see engine/ops/info_nce.cpp and engine/cuda/info_nce.cpp).
struct InfoNceContext {
  Tensor a, b, tau;
  int64_t offset = 0;
  InfoNceOptions opt;
  Tensor loss;               // {1}
  Tensor norms_a, norms_b;   // (N), (M): |A_i|, |B_j| (f32 on CUDA)
  Tensor lse_row, lse_col;   // (N): lse_j S_ij, and lse_k S_{k,offset+i} when symmetric
                             // (fused CUDA: in log2 units, lse * log2(e), as its kernels use them)
  Tensor a_hat, b_hat;       // CPU and plain CUDA: the normalized rows
  // Plain CUDA only: a_hat / tau, b_hat's positive rows, the f32 logits and their labels.
  Tensor a_scaled, b_pos, logits_row, logits_col, labels_row, labels_col;
};

struct InfoNceGrads {
  Tensor da, db, dtau;  // shapes and dtypes of a, b, tau
};

// Forward and backward without the tape: for benchmarks that time the kernels alone, and the
// building blocks of info_nce_loss. Arguments are checked as in info_nce_loss. gloss: {1}, the
// gradient of the loss (f32 on CUDA, the loss dtype on the CPU), read on the device.
InfoNceContext info_nce_forward(const Tensor& a, const Tensor& b, const Tensor& tau, int64_t offset = 0,
                                const InfoNceOptions& opt = {});
InfoNceGrads info_nce_backward(const InfoNceContext& ctx, const Tensor& gloss);

}  // namespace rsd
