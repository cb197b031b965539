#include "engine/ops/batchnorm.h"

#include <cmath>
#include <vector>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/dispatch.h"
#include "engine/ops/batchnorm_rows.h"
#include "engine/ops/checks.h"

#if RSD_HAVE_CUDA
#include "engine/cuda/batchnorm.h"
#endif

namespace rsd {

// The CPU reference (its pieces in engine/ops/batchnorm_rows.h, shared with SyncBN). x, y, gy, gx
// are viewed as (M, C) rows; per-channel tensors (C) have x's dtype. Sums run in double.
namespace cpu {

namespace {

using namespace batchnorm_rows;

template <typename T>
std::vector<double> invstd_of(const Tensor& var, double eps) {
  std::vector<double> invstd = to_doubles<T>(var);
  for (double& v : invstd) v = 1.0 / std::sqrt(v + eps);
  return invstd;
}

}  // namespace

void batchnorm_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& y,
                             Tensor& save_mean, Tensor& save_invstd, Tensor& running_mean, Tensor& running_var,
                             double momentum, double eps) {
  dispatch_cpu_float(x.dtype(), "batch_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t M = rows(x), C = channels(x);
    const T* px = x.data<T>();
    std::vector<double> mean(static_cast<size_t>(C), 0.0), sq(static_cast<size_t>(C), 0.0);
    for (int64_t r = 0; r < M; ++r)
      for (int64_t c = 0; c < C; ++c) mean[c] += static_cast<double>(px[r * C + c]);
    for (double& m : mean) m /= static_cast<double>(M);
    // Two passes (sum of squared deviations), never E[x^2] - E[x]^2.
    for (int64_t r = 0; r < M; ++r)
      for (int64_t c = 0; c < C; ++c) {
        const double d = static_cast<double>(px[r * C + c]) - mean[c];
        sq[c] += d * d;
      }
    std::vector<double> invstd(static_cast<size_t>(C));
    T* rm = running_mean.data<T>();
    T* rv = running_var.data<T>();
    for (int64_t c = 0; c < C; ++c) {
      invstd[c] = 1.0 / std::sqrt(sq[c] / static_cast<double>(M) + eps);
      rm[c] = static_cast<T>((1.0 - momentum) * static_cast<double>(rm[c]) + momentum * mean[c]);
      rv[c] = static_cast<T>((1.0 - momentum) * static_cast<double>(rv[c]) +
                             momentum * sq[c] / static_cast<double>(M - 1));
    }
    store<T>(mean.data(), save_mean);
    store<T>(invstd.data(), save_invstd);
    normalize<T>(x, gamma, beta, mean, invstd, y);
  });
}

void batchnorm_forward_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& mean,
                            const Tensor& var, Tensor& y, double eps) {
  dispatch_cpu_float(x.dtype(), "batch_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    normalize<T>(x, gamma, beta, to_doubles<T>(mean), invstd_of<T>(var, eps), y);
  });
}

// gx = gamma * invstd / M * (M * gy - dbeta - xhat * dgamma).
void batchnorm_backward_train(const Tensor& x, const Tensor& gy, const Tensor& gamma, const Tensor& save_mean,
                              const Tensor& save_invstd, Tensor& gx, Tensor& dgamma, Tensor& dbeta) {
  dispatch_cpu_float(x.dtype(), "batch_norm backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t M = rows(x), C = channels(x);
    const std::vector<double> mean = to_doubles<T>(save_mean), invstd = to_doubles<T>(save_invstd);
    std::vector<double> dg(static_cast<size_t>(C)), db(static_cast<size_t>(C));
    affine_grads<T>(x, gy, mean, invstd, dg.data(), db.data());
    grad_input<T>(x, gy, gamma, mean, invstd, db.data(), dg.data(), static_cast<double>(M), gx);
    store<T>(dg.data(), dgamma);
    store<T>(db.data(), dbeta);
  });
}

// gx = gy * gamma * invstd: the statistics are constants here.
void batchnorm_backward_eval(const Tensor& x, const Tensor& gy, const Tensor& gamma, const Tensor& mean,
                             const Tensor& var, double eps, Tensor& gx, Tensor& dgamma, Tensor& dbeta) {
  dispatch_cpu_float(x.dtype(), "batch_norm backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t M = rows(x), C = channels(x);
    const std::vector<double> invstd = invstd_of<T>(var, eps);
    std::vector<double> dg(static_cast<size_t>(C)), db(static_cast<size_t>(C));
    affine_grads<T>(x, gy, to_doubles<T>(mean), invstd, dg.data(), db.data());
    const T* pg = gy.data<T>();
    const T* g = gamma.data<T>();
    T* out = gx.data<T>();
    for (int64_t r = 0; r < M; ++r)
      for (int64_t c = 0; c < C; ++c)
        out[r * C + c] = static_cast<T>(static_cast<double>(pg[r * C + c]) * static_cast<double>(g[c]) * invstd[c]);
    store<T>(dg.data(), dgamma);
    store<T>(db.data(), dbeta);
  });
}

}  // namespace cpu

namespace {

// Per-channel tensors: (C), on x's device; f32 on CUDA, x's dtype on the CPU.
void check_channel_vector(const char* op, const char* name, const Tensor& v, const Tensor& x) {
  check::defined(op, name, v);
  check::same_device(op, x, v);
  const int64_t C = x.dim(-1);
  RSD_CHECK(v.shape() == Shape{C}, op, ": ", name, " ", v.describe(), " must have shape [", C,
            "], the channels of x ", x.describe());
  if (x.is_cuda()) {
    RSD_CHECK(v.dtype() == DType::f32, op, ": ", name, " ", v.describe(),
              " must be f32 on CUDA (per-channel parameters and statistics stay f32); x is ", x.describe());
  } else {
    RSD_CHECK(v.dtype() == x.dtype(), op, ": ", name, " ", v.describe(), " must have x's dtype on the CPU; x is ",
              x.describe());
  }
}

void check_batch_norm(const char* op, int ndim, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                      const Tensor& running_mean, const Tensor& running_var, bool training, double momentum,
                      double eps) {
  check::defined(op, "x", x);
  check::floating(op, "x", x);
  check::ndim(op, "x", x, ndim);
  RSD_CHECK(x.numel() > 0, op, ": empty input ", x.describe());
  check_channel_vector(op, "gamma", gamma, x);
  check_channel_vector(op, "beta", beta, x);
  check_channel_vector(op, "running_mean", running_mean, x);
  check_channel_vector(op, "running_var", running_var, x);
  RSD_CHECK(eps > 0.0, op, ": eps must be positive, got ", eps, " for x ", x.describe());
  RSD_CHECK(momentum >= 0.0 && momentum <= 1.0, op, ": momentum must lie in [0, 1], got ", momentum, " for x ",
            x.describe());
  const int64_t M = x.numel() / x.dim(-1);
  RSD_CHECK(!training || M > 1, op, ": training expected more than 1 value per channel, got x ", x.describe(),
            " (", M, " value per channel: batch statistics are undefined; use eval mode or a larger batch)");
}

Tensor copy_of(const Tensor& t) {
  Tensor c = Tensor::empty(t.shape(), t.dtype(), t.device());
  c.copy_from(t);
  return c;
}

// Both public ops: x viewed as (M, C) rows, M the product of all but the last dimension.
Tensor batch_norm_rows(const char* op, int ndim, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                       Tensor& running_mean, Tensor& running_var, bool training, double momentum, double eps) {
  check_batch_norm(op, ndim, x, gamma, beta, running_mean, running_var, training, momentum, eps);
  const bool grad = needs_grad({x, gamma, beta});
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  // The statistics backward needs: training, the batch mean and invstd; eval, a snapshot of the
  // running mean and variance (a later training step must not change this step's gradient).
  Tensor mean, spread;
  if (training) {
    mean = Tensor::empty(gamma.shape(), gamma.dtype(), x.device());
    spread = Tensor::empty(gamma.shape(), gamma.dtype(), x.device());
    if (x.is_cuda()) {
      RSD_CUDA_CALL(cuda::batchnorm_forward_train(x, gamma, beta, y, mean, spread, running_mean, running_var,
                                                  momentum, eps));
    } else {
      cpu::batchnorm_forward_train(x, gamma, beta, y, mean, spread, running_mean, running_var, momentum, eps);
    }
  } else {
    mean = grad ? copy_of(running_mean) : running_mean;
    spread = grad ? copy_of(running_var) : running_var;
    if (x.is_cuda()) {
      RSD_CUDA_CALL(cuda::batchnorm_forward_eval(x, gamma, beta, mean, spread, y, eps));
    } else {
      cpu::batchnorm_forward_eval(x, gamma, beta, mean, spread, y, eps);
    }
  }
  if (grad) {
    record(op, {y}, [x, gamma, beta, y, mean, spread, training, eps] {
      Tensor gx = Tensor::empty(x.shape(), x.dtype(), x.device());
      Tensor dgamma = Tensor::empty(gamma.shape(), gamma.dtype(), x.device());
      Tensor dbeta = Tensor::empty(beta.shape(), beta.dtype(), x.device());
      if (training && x.is_cuda()) {
        RSD_CUDA_CALL(cuda::batchnorm_backward_train(x, y.grad(), gamma, mean, spread, gx, dgamma, dbeta));
      } else if (training) {
        cpu::batchnorm_backward_train(x, y.grad(), gamma, mean, spread, gx, dgamma, dbeta);
      } else if (x.is_cuda()) {
        RSD_CUDA_CALL(cuda::batchnorm_backward_eval(x, y.grad(), gamma, mean, spread, eps, gx, dgamma, dbeta));
      } else {
        cpu::batchnorm_backward_eval(x, y.grad(), gamma, mean, spread, eps, gx, dgamma, dbeta);
      }
      accumulate_grad(x, gx);
      accumulate_grad(gamma, dgamma);
      accumulate_grad(beta, dbeta);
    });
  }
  return y;
}

}  // namespace

Tensor batch_norm2d(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                    Tensor& running_var, bool training, double momentum, double eps) {
  return batch_norm_rows("batch_norm2d", 4, x, gamma, beta, running_mean, running_var, training, momentum, eps);
}

Tensor batch_norm1d(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                    Tensor& running_var, bool training, double momentum, double eps) {
  return batch_norm_rows("batch_norm1d", 2, x, gamma, beta, running_mean, running_var, training, momentum, eps);
}

}  // namespace rsd
