// CUDA side of engine/ops/sync_batchnorm.h: the per-rank steps between which the op all-reduces.
// x, y, gy, gx: (M, C) rows (any shape whose last dimension is C; M may be 0); per-channel tensors
// are f32 (C); stats (C + 1), sqdev (C) and sums (2C) are f64 on x's device.
#pragma once
#include "engine/tensor.h"

namespace rsd::cuda {

// stats = [sum_rows x (C), M].
void sync_batchnorm_local_sums(const Tensor& x, Tensor& stats);
// sqdev = sum_rows (x - stats[c] / stats[C])^2, stats all-reduced.
void sync_batchnorm_local_sqdev(const Tensor& x, const Tensor& stats, Tensor& sqdev);
// save_mean, save_invstd from the all-reduced stats and sqdev; running stats updated in place.
void sync_batchnorm_finalize(const Tensor& stats, const Tensor& sqdev, double momentum, double eps,
                             Tensor& save_mean, Tensor& save_invstd, Tensor& running_mean, Tensor& running_var);
// y = (x - save_mean) * save_invstd * gamma + beta.
void sync_batchnorm_apply(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& save_mean,
                          const Tensor& save_invstd, Tensor& y);
// sums = [sum gy (C), sum gy * xhat (C)] over the local rows; dgamma, dbeta the same local sums.
void sync_batchnorm_backward_reduce(const Tensor& x, const Tensor& gy, const Tensor& save_mean,
                                    const Tensor& save_invstd, Tensor& sums, Tensor& dgamma, Tensor& dbeta);
// gx from the all-reduced sums and the global count stats[C].
void sync_batchnorm_backward_apply(const Tensor& x, const Tensor& gy, const Tensor& gamma, const Tensor& save_mean,
                                   const Tensor& save_invstd, const Tensor& sums, const Tensor& stats, Tensor& gx);

}  // namespace rsd::cuda
