// The CUDA implementation of batch norm's kernels (engine/ops/batchnorm_kernels.h): the steps of
// training with a communicator (kernels/sync_batchnorm.cu), the fused one-rank training kernels and
// eval (kernels/batchnorm.cu). Per-channel tensors are f32; moments and sums f64.
#include <algorithm>

#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/dispatch.h"
#include "engine/ops/batchnorm_kernels.h"
#include "kernels/batchnorm.cuh"
#include "kernels/sync_batchnorm.cuh"

namespace rsd::cuda {

namespace {

// x viewed as (M, C) rows.
struct Rows {
  int64_t M, C;
};

Rows rows_of(const Tensor& x) {
  const int64_t C = x.dim(-1);
  return {C > 0 ? x.numel() / C : 0, C};
}

const float* f32(const Tensor& t) { return static_cast<const float*>(t.raw()); }
float* f32_out(Tensor& t) { return static_cast<float*>(t.raw()); }
const double* f64(const Tensor& t) { return static_cast<const double*>(t.raw()); }
double* f64_out(Tensor& t) { return static_cast<double*>(t.raw()); }

// Scratch of the reductions; at least one byte so an empty x still gets a pointer.
Tensor workspace_of(size_t bytes, Device device) {
  return Tensor::empty({std::max<int64_t>(static_cast<int64_t>(bytes), 1)}, DType::u8, device);
}
Tensor fused_workspace(const Rows& r, Device device) {
  return workspace_of(kernels::batchnorm_workspace_bytes(r.M, r.C), device);
}
Tensor step_workspace(const Rows& r, Device device) {
  return workspace_of(kernels::sync_batchnorm_workspace_bytes(r.M, r.C), device);
}

cudaStream_t stream_of(const Tensor& t) { return context(t.device().index).stream; }

}  // namespace

void batch_norm_local_moments(const Tensor& x, Tensor& moments) {
  const Rows r = rows_of(x);
  Tensor workspace = step_workspace(r, x.device());
  dispatch_float(x.dtype(), "batch_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::sync_batchnorm_local_moments<T>(static_cast<const T*>(x.raw()), r.M, r.C, f64_out(moments),
                                             workspace.raw(), stream_of(x));
  });
  RSD_CUDA_CHECK_LAUNCH("batch_norm local moments of ", x.describe());
}

void batch_norm_merge_moments(const Tensor& gathered, Tensor& moments) {
  const int64_t C = (moments.numel() - 1) / 2;
  kernels::sync_batchnorm_merge_moments(f64(gathered), gathered.numel() / (2 * C + 1), C, f64_out(moments),
                                        stream_of(moments));
  RSD_CUDA_CHECK_LAUNCH("batch_norm merge of the ranks' moments ", gathered.describe());
}

// The statistics from the global moments, then the normalization: two kernels.
void batch_norm_normalize_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& moments,
                                double momentum, double eps, Tensor& y, Tensor& save_mean, Tensor& save_invstd,
                                Tensor& running_mean, Tensor& running_var) {
  const Rows r = rows_of(x);
  kernels::sync_batchnorm_finalize(f64(moments), r.C, static_cast<float>(momentum), static_cast<float>(eps),
                                   f32_out(save_mean), f32_out(save_invstd), f32_out(running_mean),
                                   f32_out(running_var), stream_of(moments));
  RSD_CUDA_CHECK_LAUNCH("batch_norm statistics of ", moments.describe());
  dispatch_float(x.dtype(), "batch_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::sync_batchnorm_apply<T>(static_cast<const T*>(x.raw()), f32(gamma), f32(beta), f32(save_mean),
                                     f32(save_invstd), static_cast<T*>(y.raw()), r.M, r.C, stream_of(x));
  });
  RSD_CUDA_CHECK_LAUNCH("batch_norm normalize ", x.describe());
}

void batch_norm_backward_reduce(const Tensor& x, const Tensor& gy, const Tensor& save_mean,
                                    const Tensor& save_invstd, Tensor& sums, Tensor& dgamma, Tensor& dbeta) {
  const Rows r = rows_of(x);
  Tensor workspace = step_workspace(r, x.device());
  dispatch_float(x.dtype(), "batch_norm backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::sync_batchnorm_backward_reduce<T>(static_cast<const T*>(x.raw()), static_cast<const T*>(gy.raw()),
                                               f32(save_mean), f32(save_invstd), r.M, r.C, f64_out(sums),
                                               f32_out(dgamma), f32_out(dbeta), workspace.raw(), stream_of(x));
  });
  RSD_CUDA_CHECK_LAUNCH("batch_norm backward sums of ", x.describe());
}

void batch_norm_backward_apply(const Tensor& x, const Tensor& gy, const Tensor& gamma, const Tensor& save_mean,
                                   const Tensor& save_invstd, const Tensor& sums, const Tensor& moments, Tensor& gx) {
  const Rows r = rows_of(x);
  dispatch_float(x.dtype(), "batch_norm backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::sync_batchnorm_backward_apply<T>(static_cast<const T*>(x.raw()), static_cast<const T*>(gy.raw()),
                                              f32(gamma), f32(save_mean), f32(save_invstd), f64(sums), f64(moments),
                                              static_cast<T*>(gx.raw()), r.M, r.C, stream_of(x));
  });
  RSD_CUDA_CHECK_LAUNCH("batch_norm backward gx of ", x.describe());
}

void batch_norm_forward_train_fused(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& y,
                             Tensor& save_mean, Tensor& save_invstd, Tensor& running_mean, Tensor& running_var,
                             double momentum, double eps) {
  const Rows r = rows_of(x);
  Tensor workspace = fused_workspace(r, x.device());
  dispatch_float(x.dtype(), "batch_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::batchnorm_forward_train<T>(static_cast<const T*>(x.raw()), f32(gamma), f32(beta), static_cast<T*>(y.raw()),
                                        f32_out(save_mean), f32_out(save_invstd), f32_out(running_mean),
                                        f32_out(running_var), r.M, r.C, static_cast<float>(momentum),
                                        static_cast<float>(eps), workspace.raw(), stream_of(x));
  });
  RSD_CUDA_CHECK_LAUNCH("batch_norm forward (training) ", x.describe());
}

void batch_norm_forward_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& mean,
                            const Tensor& var, Tensor& y, double eps) {
  const Rows r = rows_of(x);
  dispatch_float(x.dtype(), "batch_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::batchnorm_forward_eval<T>(static_cast<const T*>(x.raw()), f32(gamma), f32(beta), f32(mean), f32(var),
                                       static_cast<T*>(y.raw()), r.M, r.C, static_cast<float>(eps), stream_of(x));
  });
  RSD_CUDA_CHECK_LAUNCH("batch_norm forward (eval) ", x.describe());
}

void batch_norm_backward_train_fused(const Tensor& x, const Tensor& gy, const Tensor& gamma, const Tensor& save_mean,
                              const Tensor& save_invstd, Tensor& gx, Tensor& dgamma, Tensor& dbeta) {
  const Rows r = rows_of(x);
  Tensor workspace = fused_workspace(r, x.device());
  dispatch_float(x.dtype(), "batch_norm backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::batchnorm_backward<T>(static_cast<const T*>(x.raw()), static_cast<const T*>(gy.raw()), f32(gamma),
                                   f32(save_mean), f32(save_invstd), static_cast<T*>(gx.raw()), f32_out(dgamma),
                                   f32_out(dbeta), r.M, r.C, workspace.raw(), stream_of(x));
  });
  RSD_CUDA_CHECK_LAUNCH("batch_norm backward (training) ", x.describe());
}

// There is no dedicated eval-backward kernel; it is composed from the existing ones, exactly:
//  1. invstd = 1 / sqrt(var + eps): the eval forward applied to one row of ones with zero mean
//     and no affine (y = (1 - 0) * invstd).
//  2. dgamma = invstd * sum gy * (x - mean) and dbeta = sum gy: what the training backward
//     computes when handed mean and invstd as its "saved" statistics. Its gx (the training
//     formula) is scratch, overwritten in step 3 on the same stream.
//  3. gx = gy * gamma * invstd: the eval forward applied to gy with zero mean and no beta.
void batch_norm_backward_eval(const Tensor& x, const Tensor& gy, const Tensor& gamma, const Tensor& mean,
                             const Tensor& var, double eps, Tensor& gx, Tensor& dgamma, Tensor& dbeta) {
  const Rows r = rows_of(x);
  const Device device = x.device();
  cudaStream_t stream = stream_of(x);
  const auto feps = static_cast<float>(eps);
  const Tensor ones = Tensor::full({1, r.C}, 1.0, DType::f32, device);
  const Tensor zeros = Tensor::zeros({r.C}, DType::f32, device);
  Tensor invstd = Tensor::empty({r.C}, DType::f32, device);
  kernels::batchnorm_forward_eval<float>(f32(ones), nullptr, nullptr, f32(zeros), f32(var), f32_out(invstd), 1, r.C,
                                         feps, stream);
  RSD_CUDA_CHECK_LAUNCH("batch_norm backward (eval) invstd of ", var.describe());
  Tensor workspace = fused_workspace(r, device);
  dispatch_float(x.dtype(), "batch_norm backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::batchnorm_backward<T>(static_cast<const T*>(x.raw()), static_cast<const T*>(gy.raw()), f32(gamma),
                                   f32(mean), f32(invstd), static_cast<T*>(gx.raw()), f32_out(dgamma),
                                   f32_out(dbeta), r.M, r.C, workspace.raw(), stream);
    RSD_CUDA_CHECK_LAUNCH("batch_norm backward (eval) dgamma, dbeta of ", x.describe());
    kernels::batchnorm_forward_eval<T>(static_cast<const T*>(gy.raw()), f32(gamma), nullptr, f32(zeros), f32(var),
                                       static_cast<T*>(gx.raw()), r.M, r.C, feps, stream);
  });
  RSD_CUDA_CHECK_LAUNCH("batch_norm backward (eval) gx of ", x.describe());
}

}  // namespace rsd::cuda
