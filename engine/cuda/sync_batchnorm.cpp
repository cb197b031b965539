#include "engine/cuda/sync_batchnorm.h"

#include <algorithm>

#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/dispatch.h"
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

// The reductions' (slabs, C) partials; at least one byte so an empty x still gets a pointer.
Tensor workspace_for(const Rows& r, Device device) {
  const auto bytes = static_cast<int64_t>(kernels::sync_batchnorm_workspace_bytes(r.M, r.C));
  return Tensor::empty({std::max<int64_t>(bytes, 1)}, DType::u8, device);
}

cudaStream_t stream_of(const Tensor& t) { return context(t.device().index).stream; }

}  // namespace

void sync_batchnorm_local_sums(const Tensor& x, Tensor& stats) {
  const Rows r = rows_of(x);
  Tensor workspace = workspace_for(r, x.device());
  dispatch_float(x.dtype(), "sync_batch_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::sync_batchnorm_local_sums<T>(static_cast<const T*>(x.raw()), r.M, r.C, f64_out(stats), workspace.raw(),
                                          stream_of(x));
  });
  RSD_CUDA_CHECK_LAUNCH("sync_batch_norm local sums of ", x.describe());
}

void sync_batchnorm_local_sqdev(const Tensor& x, const Tensor& stats, Tensor& sqdev) {
  const Rows r = rows_of(x);
  Tensor workspace = workspace_for(r, x.device());
  dispatch_float(x.dtype(), "sync_batch_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::sync_batchnorm_local_sqdev<T>(static_cast<const T*>(x.raw()), f64(stats), r.M, r.C, f64_out(sqdev),
                                           workspace.raw(), stream_of(x));
  });
  RSD_CUDA_CHECK_LAUNCH("sync_batch_norm local squared deviations of ", x.describe());
}

void sync_batchnorm_finalize(const Tensor& stats, const Tensor& sqdev, double momentum, double eps,
                             Tensor& save_mean, Tensor& save_invstd, Tensor& running_mean, Tensor& running_var) {
  kernels::sync_batchnorm_finalize(f64(stats), f64(sqdev), sqdev.numel(), static_cast<float>(momentum),
                                   static_cast<float>(eps), f32_out(save_mean), f32_out(save_invstd),
                                   f32_out(running_mean), f32_out(running_var), stream_of(stats));
  RSD_CUDA_CHECK_LAUNCH("sync_batch_norm statistics of ", stats.describe());
}

void sync_batchnorm_apply(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& save_mean,
                          const Tensor& save_invstd, Tensor& y) {
  const Rows r = rows_of(x);
  dispatch_float(x.dtype(), "sync_batch_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::sync_batchnorm_apply<T>(static_cast<const T*>(x.raw()), f32(gamma), f32(beta), f32(save_mean),
                                     f32(save_invstd), static_cast<T*>(y.raw()), r.M, r.C, stream_of(x));
  });
  RSD_CUDA_CHECK_LAUNCH("sync_batch_norm normalize ", x.describe());
}

void sync_batchnorm_backward_reduce(const Tensor& x, const Tensor& gy, const Tensor& save_mean,
                                    const Tensor& save_invstd, Tensor& sums, Tensor& dgamma, Tensor& dbeta) {
  const Rows r = rows_of(x);
  Tensor workspace = workspace_for(r, x.device());
  dispatch_float(x.dtype(), "sync_batch_norm backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::sync_batchnorm_backward_reduce<T>(static_cast<const T*>(x.raw()), static_cast<const T*>(gy.raw()),
                                               f32(save_mean), f32(save_invstd), r.M, r.C, f64_out(sums),
                                               f32_out(dgamma), f32_out(dbeta), workspace.raw(), stream_of(x));
  });
  RSD_CUDA_CHECK_LAUNCH("sync_batch_norm backward sums of ", x.describe());
}

void sync_batchnorm_backward_apply(const Tensor& x, const Tensor& gy, const Tensor& gamma, const Tensor& save_mean,
                                   const Tensor& save_invstd, const Tensor& sums, const Tensor& stats, Tensor& gx) {
  const Rows r = rows_of(x);
  dispatch_float(x.dtype(), "sync_batch_norm backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::sync_batchnorm_backward_apply<T>(static_cast<const T*>(x.raw()), static_cast<const T*>(gy.raw()),
                                              f32(gamma), f32(save_mean), f32(save_invstd), f64(sums), f64(stats),
                                              static_cast<T*>(gx.raw()), r.M, r.C, stream_of(x));
  });
  RSD_CUDA_CHECK_LAUNCH("sync_batch_norm backward gx of ", x.describe());
}

}  // namespace rsd::cuda
