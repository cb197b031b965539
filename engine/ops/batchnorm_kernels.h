// The kernels of batch norm, with or without a communicator (engine/ops/batchnorm.h), declared once
// for every backend: engine/cpu/batchnorm.cpp (the reference) and engine/cuda/batchnorm.cpp.
// x, y, gy, gx: (M, C) rows (any shape whose last dimension is C; M may be 0 on a rank of SyncBN);
// per-channel tensors (C): f32 on CUDA, x's dtype on the CPU; moments (2C + 1) and sums (2C): f64
// on x's device.
#pragma once
#include "engine/op.h"

namespace rsd {

// Training, in steps between which SyncBN moves data between ranks (every backend). moments:
// [mean (C), m2 (C), n], per channel the mean and the sum of squared deviations from it, and the
// row count.
// moments of the local rows (zeros when there are none); only moments' element count matters.
RSD_DECLARE_KERNEL(batch_norm_local_moments, (const Tensor& x, Tensor& moments));
// moments of the union of the sets whose moments are gathered rank-major in `gathered`
// (W, 2C + 1), merged in rank order (Chan et al., in double).
RSD_DECLARE_KERNEL(batch_norm_merge_moments, (const Tensor& gathered, Tensor& moments));
// From the global moments: y normalized, save_mean / save_invstd for the backward, the running
// statistics updated in place (mean, and the unbiased variance m2 / (n - 1)).
RSD_DECLARE_KERNEL(batch_norm_normalize_train,
                   (const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& moments, double momentum,
                    double eps, Tensor& y, Tensor& save_mean, Tensor& save_invstd, Tensor& running_mean,
                    Tensor& running_var));
// sums = [sum gy (C), sum gy * xhat (C)] over the local rows; dgamma, dbeta: the same local sums.
RSD_DECLARE_KERNEL(batch_norm_backward_reduce, (const Tensor& x, const Tensor& gy, const Tensor& save_mean,
                                                const Tensor& save_invstd, Tensor& sums, Tensor& dgamma,
                                                Tensor& dbeta));
// gx = gamma * invstd / n * (n * gy - sum_gy - xhat * sum_gy_xhat), from the global sums and the
// global count n = moments[2C].
RSD_DECLARE_KERNEL(batch_norm_backward_apply,
                   (const Tensor& x, const Tensor& gy, const Tensor& gamma, const Tensor& save_mean,
                    const Tensor& save_invstd, const Tensor& sums, const Tensor& moments, Tensor& gx));

// Eval: mean / var (a snapshot of the running statistics) normalize; their gradient treats them as
// constants.
RSD_DECLARE_KERNEL(batch_norm_forward_eval, (const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                             const Tensor& mean, const Tensor& var, Tensor& y, double eps));
RSD_DECLARE_KERNEL(batch_norm_backward_eval,
                   (const Tensor& x, const Tensor& gy, const Tensor& gamma, const Tensor& mean, const Tensor& var,
                    double eps, Tensor& gx, Tensor& dgamma, Tensor& dbeta));

// The fused variant of training without a communicator, f32 (and bf16 on CUDA): one kernel a
// direction instead of the steps above, on CUDA and on oneDNN (engine/onednn/batchnorm.cpp); the
// reference runs the steps.
RSD_DECLARE_CUDA_ONEDNN_KERNEL(batch_norm_forward_train_fused,
                        (const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& y, Tensor& save_mean,
                         Tensor& save_invstd, Tensor& running_mean, Tensor& running_var, double momentum, double eps));
RSD_DECLARE_CUDA_ONEDNN_KERNEL(batch_norm_backward_train_fused,
                        (const Tensor& x, const Tensor& gy, const Tensor& gamma, const Tensor& save_mean,
                         const Tensor& save_invstd, Tensor& gx, Tensor& dgamma, Tensor& dbeta));
// The fused training forward followed by a ReLU, y = max(bn(x), 0), in one pass (oneDNN's
// fuse_norm_relu), which also writes `workspace` (allocated by the kernel: the ReLU's mask in
// oneDNN's format); its backward masks gy with it inside the batch-norm backward, one pass fewer.
// Elsewhere the op runs the ReLU after the normalization and masks gy by y > 0 before.
RSD_DECLARE_ONEDNN_ONLY_KERNEL(batch_norm_relu_forward_train_fused,
                               (const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& y, Tensor& save_mean,
                                Tensor& save_invstd, Tensor& running_mean, Tensor& running_var, double momentum,
                                double eps, Tensor& workspace))
RSD_DECLARE_ONEDNN_ONLY_KERNEL(batch_norm_relu_backward_train_fused,
                               (const Tensor& x, const Tensor& gy, const Tensor& gamma, const Tensor& save_mean,
                                const Tensor& save_invstd, const Tensor& workspace, Tensor& gx, Tensor& dgamma,
                                Tensor& dbeta))

}  // namespace rsd
