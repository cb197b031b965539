#include "engine/ops/sync_batchnorm.h"

#include <cmath>
#include <vector>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/dispatch.h"
#include "engine/ops/batchnorm_rows.h"
#include "engine/ops/checks.h"

#if RSD_HAVE_CUDA
#include "engine/cuda/sync_batchnorm.h"
#endif

namespace rsd {

// The CPU reference, batch_norm's CPU reference (the shared pieces in engine/ops/batchnorm_rows.h)
// with the sums split into a local part and an all-reduce, so that one rank reproduces
// batch_norm2d / batch_norm1d bit for bit. x, y, gy, gx are viewed as (M, C) rows; per-channel
// tensors have x's dtype; stats (C + 1), sqdev (C) and sums (2C) are f64.
namespace cpu {

namespace {

using namespace batchnorm_rows;

// stats = [sum_rows x (C), M].
void local_sums(const Tensor& x, Tensor& stats) {
  dispatch_cpu_float(x.dtype(), "sync_batch_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t M = rows(x), C = channels(x);
    const T* px = x.data<T>();
    double* s = stats.data<double>();
    for (int64_t c = 0; c <= C; ++c) s[c] = 0.0;
    for (int64_t r = 0; r < M; ++r)
      for (int64_t c = 0; c < C; ++c) s[c] += static_cast<double>(px[r * C + c]);
    s[C] = static_cast<double>(M);
  });
}

// sqdev = sum_rows (x - mean)^2, mean = stats[c] / stats[C] (stats all-reduced: global).
void local_sqdev(const Tensor& x, const Tensor& stats, Tensor& sqdev) {
  dispatch_cpu_float(x.dtype(), "sync_batch_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t M = rows(x), C = channels(x);
    const T* px = x.data<T>();
    const double* s = stats.data<double>();
    std::vector<double> mean(static_cast<size_t>(C));
    for (int64_t c = 0; c < C; ++c) mean[c] = s[c] / s[C];
    double* sq = sqdev.data<double>();
    for (int64_t c = 0; c < C; ++c) sq[c] = 0.0;
    for (int64_t r = 0; r < M; ++r)
      for (int64_t c = 0; c < C; ++c) {
        const double d = static_cast<double>(px[r * C + c]) - mean[c];
        sq[c] += d * d;
      }
  });
}

// From the global stats and sqdev: y = (x - mean) * invstd * gamma + beta with mean and invstd in
// double; save_mean / save_invstd keep them (in x's dtype) for the backward; the running
// statistics take the mean and the unbiased variance sqdev / (n - 1).
void normalize_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& stats,
                     const Tensor& sqdev, double momentum, double eps, Tensor& y, Tensor& save_mean,
                     Tensor& save_invstd, Tensor& running_mean, Tensor& running_var) {
  dispatch_cpu_float(x.dtype(), "sync_batch_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t C = channels(x);
    const double* s = stats.data<double>();
    const double* sq = sqdev.data<double>();
    const double n = s[C];
    std::vector<double> mean(static_cast<size_t>(C)), invstd(static_cast<size_t>(C));
    T* rm = running_mean.data<T>();
    T* rv = running_var.data<T>();
    for (int64_t c = 0; c < C; ++c) {
      mean[c] = s[c] / n;
      invstd[c] = 1.0 / std::sqrt(sq[c] / n + eps);
      rm[c] = static_cast<T>((1.0 - momentum) * static_cast<double>(rm[c]) + momentum * mean[c]);
      rv[c] = static_cast<T>((1.0 - momentum) * static_cast<double>(rv[c]) + momentum * sq[c] / (n - 1.0));
    }
    store<T>(mean.data(), save_mean);
    store<T>(invstd.data(), save_invstd);
    normalize<T>(x, gamma, beta, mean, invstd, y);
  });
}

// sums = [sum gy (C), sum gy * xhat (C)] over the local rows; dbeta, dgamma the same.
void backward_reduce(const Tensor& x, const Tensor& gy, const Tensor& save_mean, const Tensor& save_invstd,
                     Tensor& sums, Tensor& dgamma, Tensor& dbeta) {
  dispatch_cpu_float(x.dtype(), "sync_batch_norm backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const std::vector<double> mean = to_doubles<T>(save_mean), invstd = to_doubles<T>(save_invstd);
    double* db = sums.data<double>();
    double* dg = db + channels(x);
    affine_grads<T>(x, gy, mean, invstd, dg, db);
    store<T>(dg, dgamma);
    store<T>(db, dbeta);
  });
}

// gx = gamma * invstd / n * (n * gy - sum_gy - xhat * sum_gy_xhat), the global sums and count.
void backward_apply(const Tensor& x, const Tensor& gy, const Tensor& gamma, const Tensor& save_mean,
                    const Tensor& save_invstd, const Tensor& sums, const Tensor& stats, Tensor& gx) {
  dispatch_cpu_float(x.dtype(), "sync_batch_norm backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t C = channels(x);
    const std::vector<double> mean = to_doubles<T>(save_mean), invstd = to_doubles<T>(save_invstd);
    const double* db = sums.data<double>();
    grad_input<T>(x, gy, gamma, mean, invstd, db, db + C, stats.data<double>()[C], gx);
  });
}

}  // namespace

}  // namespace cpu

namespace {

constexpr const char* kOp = "sync_batch_norm";

std::string describe_comm(const comm::Communicator& comm) {
  return str_cat("rank ", comm.rank(), " of ", comm.world_size(), " on ", comm.device().str());
}

// Per-channel tensors: (C), on x's device; f32 on CUDA, x's dtype on the CPU.
void check_channel_vector(const char* name, const Tensor& v, const Tensor& x) {
  check::defined(kOp, name, v);
  check::same_device(kOp, x, v);
  const int64_t C = x.dim(-1);
  RSD_CHECK(v.shape() == Shape{C}, kOp, ": ", name, " ", v.describe(), " must have shape [", C,
            "], the channels of x ", x.describe());
  if (x.is_cuda()) {
    RSD_CHECK(v.dtype() == DType::f32, kOp, ": ", name, " ", v.describe(),
              " must be f32 on CUDA (per-channel parameters and statistics stay f32); x is ", x.describe());
  } else {
    RSD_CHECK(v.dtype() == x.dtype(), kOp, ": ", name, " ", v.describe(), " must have x's dtype on the CPU; x is ",
              x.describe());
  }
}

void check_arguments(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                     const Tensor& running_var, const comm::Communicator& comm, double momentum, double eps) {
  check::defined(kOp, "x", x);
  check::floating(kOp, "x", x);
  RSD_CHECK(x.ndim() == 4 || x.ndim() == 2, kOp, ": x ", x.describe(),
            " must be (N, H, W, C) or (N, C), channels last");
  RSD_CHECK(x.dim(-1) > 0, kOp, ": x ", x.describe(), " has no channels");
  check_channel_vector("gamma", gamma, x);
  check_channel_vector("beta", beta, x);
  check_channel_vector("running_mean", running_mean, x);
  check_channel_vector("running_var", running_var, x);
  RSD_CHECK(eps > 0.0, kOp, ": eps must be positive, got ", eps, " for x ", x.describe());
  RSD_CHECK(momentum >= 0.0 && momentum <= 1.0, kOp, ": momentum must lie in [0, 1], got ", momentum, " for x ",
            x.describe());
  RSD_CHECK(comm.device() == x.device(), kOp, ": x ", x.describe(), " is on ", x.device().str(),
            " but the communicator (", describe_comm(comm), ") reduces tensors on ", comm.device().str(),
            "; run the model on the communicator's device");
}

// Refuses a global batch with one value per channel (or none): the batch statistics are
// undefined. Only a rank with fewer than two rows can be in that case, and if the global count
// is below two every rank is, so every rank reads the count and fails alike (no rank is left
// waiting in the next all-reduce). On CUDA the read waits for the stream.
void check_global_count(const Tensor& x, const Tensor& stats, const comm::Communicator& comm) {
  const int64_t C = x.dim(-1);
  if (x.numel() / C > 1) return;
  const double n = stats.to_host_doubles()[static_cast<size_t>(C)];
  RSD_CHECK(n > 1.0, kOp, ": training expected more than 1 value per channel over all ranks, got ", n,
            " in total (x ", x.describe(), " on ", describe_comm(comm),
            "): batch statistics are undefined; use eval mode or a larger batch");
}

}  // namespace

Tensor sync_batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                       Tensor& running_var, comm::Communicator& comm, double momentum, double eps) {
  check_arguments(x, gamma, beta, running_mean, running_var, comm, momentum, eps);
  const int64_t C = x.dim(-1);
  const Device device = x.device();

  // Pass 1: the global count and per-channel sums -> the global mean.
  Tensor stats = Tensor::empty({C + 1}, DType::f64, device);
  if (x.is_cuda()) {
    RSD_CUDA_CALL(cuda::sync_batchnorm_local_sums(x, stats));
  } else {
    cpu::local_sums(x, stats);
  }
  comm.all_reduce(stats, comm::ReduceOp::sum);
  check_global_count(x, stats, comm);

  // Pass 2: the global sum of squared deviations from that mean -> the global variance.
  Tensor sqdev = Tensor::empty({C}, DType::f64, device);
  if (x.is_cuda()) {
    RSD_CUDA_CALL(cuda::sync_batchnorm_local_sqdev(x, stats, sqdev));
  } else {
    cpu::local_sqdev(x, stats, sqdev);
  }
  comm.all_reduce(sqdev, comm::ReduceOp::sum);

  Tensor y = Tensor::empty(x.shape(), x.dtype(), device);
  Tensor save_mean = Tensor::empty({C}, gamma.dtype(), device);
  Tensor save_invstd = Tensor::empty({C}, gamma.dtype(), device);
  if (x.is_cuda()) {
    RSD_CUDA_CALL(cuda::sync_batchnorm_finalize(stats, sqdev, momentum, eps, save_mean, save_invstd, running_mean,
                                                running_var));
    RSD_CUDA_CALL(cuda::sync_batchnorm_apply(x, gamma, beta, save_mean, save_invstd, y));
  } else {
    cpu::normalize_train(x, gamma, beta, stats, sqdev, momentum, eps, y, save_mean, save_invstd, running_mean,
                         running_var);
  }

  if (needs_grad({x, gamma, beta})) {
    comm::Communicator* communicator = &comm;
    record(kOp, {y}, [x, gamma, beta, y, save_mean, save_invstd, stats, communicator] {
      const int64_t channels = x.dim(-1);
      Tensor sums = Tensor::empty({2 * channels}, DType::f64, x.device());
      Tensor dgamma = Tensor::empty(gamma.shape(), gamma.dtype(), x.device());
      Tensor dbeta = Tensor::empty(beta.shape(), beta.dtype(), x.device());
      if (x.is_cuda()) {
        RSD_CUDA_CALL(cuda::sync_batchnorm_backward_reduce(x, y.grad(), save_mean, save_invstd, sums, dgamma, dbeta));
      } else {
        cpu::backward_reduce(x, y.grad(), save_mean, save_invstd, sums, dgamma, dbeta);
      }
      communicator->all_reduce(sums, comm::ReduceOp::sum);
      Tensor gx = Tensor::empty(x.shape(), x.dtype(), x.device());
      if (x.is_cuda()) {
        RSD_CUDA_CALL(cuda::sync_batchnorm_backward_apply(x, y.grad(), gamma, save_mean, save_invstd, sums, stats, gx));
      } else {
        cpu::backward_apply(x, y.grad(), gamma, save_mean, save_invstd, sums, stats, gx);
      }
      accumulate_grad(x, gx);
      accumulate_grad(gamma, dgamma);
      accumulate_grad(beta, dbeta);
    });
  }
  return y;
}

}  // namespace rsd
