// Synchronized batch normalization: training-mode batch norm whose statistics are taken over the
// rows of every rank of a communicator, as PyTorch's SyncBatchNorm.
//
// x: (N, H, W, C) or (N, C), channels last; statistics per channel over all other dimensions and
// all ranks. Ranks may hold different N (even 0, as long as the ranks together hold more than one
// value per channel). gamma, beta, running_mean, running_var: (C); f32 on CUDA (x f32 or bf16),
// x's dtype on the CPU (f32 or f64). Semantics are batch_norm2d / batch_norm1d's in training
// (engine/ops/batchnorm.h): the global mean and biased variance normalize; the running statistics
// are updated in place on every rank alike with the global mean and the unbiased variance over
// the global count. With one rank the result equals batch_norm2d / batch_norm1d (training).
//
// Communication (all-reduce, sum, in double):
//   forward   [sum_rows x (C), rows]  (C + 1)  -> global count and mean
//             sum_rows (x - mean)^2   (C)      -> global variance (two passes: never E[x^2] - E[x]^2)
//   backward  [sum gy, sum gy * xhat] (2C)     -> gx = gamma * invstd * (gy - sum_gy / n
//                                                      - xhat * sum_gy_xhat / n), n the global count
// dgamma and dbeta are the LOCAL sums: the data-parallel gradient all-reduce adds them across
// ranks, as it does every other parameter's gradient.
//
// Every rank must call it in the same order with the same C and dtype, and every rank must run
// the backward (the tape runs a node only when its output received a gradient, so every rank's
// loss must depend on it alike). The communicator must outlive the backward. A collective that
// cannot complete (a rank that died, mismatched calls) fails after the communicator's timeout.
// On CUDA the collectives are ordered on the compute stream; the host reads the global count
// only on a rank holding fewer than two rows (to refuse a batch with one value per channel).
#pragma once
#include "engine/comm/communicator.h"
#include "engine/tensor.h"

namespace rsd {

Tensor sync_batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                       Tensor& running_var, comm::Communicator& comm, double momentum = 0.1, double eps = 1e-5);

}  // namespace rsd
