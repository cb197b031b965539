// Batch normalization over the channel (last) dimension, PyTorch's BatchNorm semantics.
//
// gamma, beta, running_mean, running_var: (C). On CUDA they are f32 whatever x's dtype (f32 or
// bf16); on the CPU they have x's dtype (f32 or f64, f64 for the gradient checks).
//
// training: the batch mean and biased variance normalize, y = (x - mean) / sqrt(var + eps) * gamma
//   + beta, and the running statistics are updated in place: running = (1 - momentum) * running +
//   momentum * batch, with the unbiased variance for running_var. Needs more than one value per
//   channel. Backward: the full batch-norm gradient (through the batch statistics).
// eval: the running statistics normalize and are left alone. Backward: gx = gy * gamma * invstd,
//   dgamma = sum gy * xhat, dbeta = sum gy, with invstd and xhat from the running statistics.
//
// sync_batch_norm is the same op with a communicator (training only), as PyTorch's SyncBatchNorm:
// statistics per channel over the rows of every rank; ranks may hold different N (even 0, as long
// as the ranks together hold more than one value per channel); the running statistics are updated
// on every rank alike with the global mean and the unbiased variance over the global count. With
// one rank the result equals batch_norm2d / batch_norm1d in training, bit for bit: both run the same
// steps (engine/ops/batchnorm_kernels.h), with one collective a direction between them (double):
//   forward   all-gather [mean, m2, rows] (2C + 1) of each rank -> merged in rank order (Chan et
//             al.): global count, mean and variance (never E[x^2] - E[x]^2), the same bits on
//             every rank
//   backward  all-reduce [sum gy, sum gy * xhat] (2C) -> gx = gamma * invstd * (gy - sum_gy / n
//                                                         - xhat * sum_gy_xhat / n), n the global count
// dgamma and dbeta are the LOCAL sums: the data-parallel gradient all-reduce adds them across
// ranks, as it does every other parameter's gradient. Without a communicator, CUDA runs the fused
// one-rank kernels instead of the steps.
//
// Every rank must call sync_batch_norm in the same order with the same C and dtype, and every rank
// must run the backward (the tape runs a node only when its output received a gradient, so every
// rank's loss must depend on it alike). The communicator must outlive the backward. A collective
// that cannot complete (a rank that died, mismatched calls) fails after the communicator's
// timeout. On CUDA the collectives are ordered on the compute stream; the host reads the global
// count only on a rank holding fewer than two rows (to refuse a batch with one value per channel).
#pragma once
#include "engine/comm/communicator.h"
#include "engine/tensor.h"

namespace rsd {

// x: (N, H, W, C) NHWC -> y of the same shape; statistics over N*H*W per channel.
Tensor batch_norm2d(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                    Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);
// x: (N, C) -> y: (N, C); statistics over N per channel.
Tensor batch_norm1d(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                    Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);

// x: (N, H, W, C) or (N, C), channels last; every rank of comm calls it alike (above).
Tensor sync_batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                       Tensor& running_var, comm::Communicator& comm, double momentum = 0.1, double eps = 1e-5);

// The same three followed by a ReLU, y = max(bn(x), 0), as one op: on oneDNN one primitive in
// training (its fused ReLU: one pass over the activations fewer), elsewhere the ReLU in place after
// the normalization. Backward: the gradient masked by y > 0, then batch norm's.
Tensor batch_norm2d_relu(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                         Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);
Tensor batch_norm1d_relu(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                         Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);
Tensor sync_batch_norm_relu(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                            Tensor& running_var, comm::Communicator& comm, double momentum = 0.1, double eps = 1e-5);

}  // namespace rsd
