#include "engine/ops/batchnorm.h"

#include <string>

#include "engine/ops/batchnorm_kernels.h"
#include "engine/ops/elementwise_kernels.h"

namespace rsd {

namespace {

struct BatchNormAttrs {
  bool training;
  double momentum, eps;
  comm::Communicator* comm;  // null: this process's batch only
  bool relu = false;         // y = max(bn(x), 0)
};

std::string describe_comm(const comm::Communicator& comm) {
  return str_cat("rank ", comm.rank(), " of ", comm.world_size(), " on ", comm.device().str());
}

// Per-channel tensors: (C), on x's device; f32 on CUDA, x's dtype on the CPU.
void check_channel_vector(const char* op, const char* name, const Tensor& v, const Tensor& x) {
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

// x's shape: batch_norm2d (N, H, W, C), batch_norm1d (N, C), with a communicator either (a rank
// may hold no rows: the count over all ranks is checked once it is known).
void check_x(const char* op, int ndim, const Tensor& x, const BatchNormAttrs& a) {
  check::floating(op, "x", x);
  check::computable(op, "x", x);
  if (a.comm == nullptr) {
    check::ndim(op, "x", x, ndim);
    RSD_CHECK(x.numel() > 0, op, ": empty input ", x.describe());
    const int64_t M = x.numel() / x.dim(-1);
    RSD_CHECK(!a.training || M > 1, op, ": training expected more than 1 value per channel, got x ", x.describe(),
              " (", M, " value per channel: batch statistics are undefined; use eval mode or a larger batch)");
    return;
  }
  RSD_CHECK(x.ndim() == 4 || x.ndim() == 2, op, ": x ", x.describe(), " must be (N, H, W, C) or (N, C), channels last");
  RSD_CHECK(x.dim(-1) > 0, op, ": x ", x.describe(), " has no channels");
  RSD_CHECK(a.comm->device() == x.device(), op, ": x ", x.describe(), " is on ", x.device().str(),
            " but the communicator (", describe_comm(*a.comm), ") reduces tensors on ", a.comm->device().str(),
            "; run the model on the communicator's device");
}

// Refuses a global batch with one value per channel (or none): the batch statistics are
// undefined. Only a rank with fewer than two rows can be in that case, and if the global count
// is below two every rank is, so every rank reads the count and fails alike (no rank is left
// waiting in the next all-reduce). On CUDA the read waits for the stream.
void check_global_count(const char* op, const Tensor& x, const Tensor& moments, const comm::Communicator& comm) {
  const int64_t C = x.dim(-1);
  if (x.numel() / C > 1) return;
  const double n = moments.to_host_doubles()[static_cast<size_t>(2 * C)];
  RSD_CHECK(n > 1.0, op, ": training expected more than 1 value per channel over all ranks, got ", n,
            " in total (x ", x.describe(), " on ", describe_comm(comm),
            "): batch statistics are undefined; use eval mode or a larger batch");
}

Tensor copy_of(const Tensor& t) {
  Tensor c = empty_like(t);
  c.copy_from(t);
  return c;
}

// One op for batch_norm2d, batch_norm1d and sync_batch_norm (Kind: the name and x's rank).
// Inputs: x, gamma, beta, running_mean, running_var (updated in place in training). Outputs: y;
// the statistics the backward reads: training, the batch mean and invstd; eval, a snapshot of the
// running mean and variance (a later training step must not change this step's gradient); and
// in training the (global) moments: mean, m2 and count.
template <typename Kind>
struct BatchNorm {
  static constexpr const char* name = Kind::name;
  static constexpr std::array<OpInput, 5> inputs{
      {{"x"}, {"gamma"}, {"beta"}, {"running_mean", false}, {"running_var", false}}};
  using Attrs = BatchNormAttrs;
  static constexpr auto local_moments = RSD_KERNELS(batch_norm_local_moments);
  static constexpr auto merge_moments = RSD_KERNELS(batch_norm_merge_moments);
  static constexpr auto normalize_train = RSD_KERNELS(batch_norm_normalize_train);
  static constexpr auto backward_reduce = RSD_KERNELS(batch_norm_backward_reduce);
  static constexpr auto backward_apply = RSD_KERNELS(batch_norm_backward_apply);
  static constexpr auto forward_eval = RSD_KERNELS(batch_norm_forward_eval);
  static constexpr auto backward_eval = RSD_KERNELS(batch_norm_backward_eval);
  static constexpr auto forward_fused = RSD_CUDA_ONEDNN_KERNELS(
      batch_norm_forward_train_fused, void(const Tensor&, const Tensor&, const Tensor&, Tensor&, Tensor&, Tensor&,
                                           Tensor&, Tensor&, double, double));
  static constexpr auto backward_fused =
      RSD_CUDA_ONEDNN_KERNELS(batch_norm_backward_train_fused, void(const Tensor&, const Tensor&, const Tensor&,
                                                             const Tensor&, const Tensor&, Tensor&, Tensor&, Tensor&));
  static constexpr auto forward_relu_fused = RSD_ONEDNN_KERNELS(
      batch_norm_relu_forward_train_fused, void(const Tensor&, const Tensor&, const Tensor&, Tensor&, Tensor&, Tensor&,
                                                Tensor&, Tensor&, double, double, Tensor&));
  static constexpr auto backward_relu_fused = RSD_ONEDNN_KERNELS(
      batch_norm_relu_backward_train_fused, void(const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                                 const Tensor&, const Tensor&, Tensor&, Tensor&, Tensor&));
  static constexpr auto relu_forward = RSD_KERNELS_WITH_ONEDNN(relu_forward);
  static constexpr auto relu_backward = RSD_KERNELS_WITH_ONEDNN(relu_backward);

  static void check(const TensorList<5>& in, const Attrs& a) {
    const Tensor& x = in[0];
    check_x(name, Kind::ndim, x, a);
    for (size_t i = 1; i < 5; ++i) check_channel_vector(name, inputs[i].name, in[i], x);
    RSD_CHECK(a.eps > 0.0, name, ": eps must be positive, got ", a.eps, " for x ", x.describe());
    RSD_CHECK(a.momentum >= 0.0 && a.momentum <= 1.0, name, ": momentum must lie in [0, 1], got ", a.momentum,
              " for x ", x.describe());
  }
  static TensorList<4> allocate(const TensorList<5>& in, const Attrs& a) {
    const Tensor &x = in[0], &gamma = in[1];
    if (!a.training) {
      const bool grad = grad_enabled() && (x.requires_grad() || gamma.requires_grad() || in[2].requires_grad());
      return {empty_like(x), grad ? copy_of(in[3]) : in[3], grad ? copy_of(in[4]) : in[4], Tensor()};
    }
    const int64_t C = x.dim(-1);
    return {empty_like(x), empty_like(gamma), empty_like(gamma), Tensor::empty({2 * C + 1}, DType::f64, x.device())};
  }
  // The fused kernels: without a communicator, where the backend has them; not in float64.
  static bool fused(const Attrs& a, const Tensor& x) {
    return a.comm == nullptr && x.dtype() != DType::f64 && forward_fused.has(forward_fused.backend_for(x.device()));
  }
  // BN + ReLU as one kernel each way (oneDNN), the ReLU's mask kept in out[3] between them.
  static bool relu_fused(const Attrs& a, const Tensor& x) {
    return a.relu && a.training && fused(a, x) && forward_relu_fused.has(forward_relu_fused.backend_for(x.device()));
  }
  static void forward(const TensorList<5>& in, TensorList<4>& out, const Attrs& a) {
    const Tensor& x = in[0];
    if (relu_fused(a, x)) {
      Tensor running_mean = in[3], running_var = in[4];
      return forward_relu_fused(x.device(), x, in[1], in[2], out[0], out[1], out[2], running_mean, running_var,
                                a.momentum, a.eps, out[3]);
    }
    normalize(in, out, a);
    if (a.relu) relu_forward(x.device(), out[0], out[0]);
  }
  static void normalize(const TensorList<5>& in, TensorList<4>& out, const Attrs& a) {
    const Tensor &x = in[0], &gamma = in[1], &beta = in[2];
    Tensor running_mean = in[3], running_var = in[4];  // handles: the kernels update their storage
    const Device d = x.device();
    if (!a.training) return forward_eval(d, x, gamma, beta, out[1], out[2], out[0], a.eps);
    if (fused(a, x)) {
      return forward_fused(d, x, gamma, beta, out[0], out[1], out[2], running_mean, running_var, a.momentum, a.eps);
    }
    Tensor& moments = out[3];
    if (a.comm == nullptr) {
      local_moments(d, x, moments);
    } else {
      global_moments(x, *a.comm, moments);
      check_global_count(name, x, moments, *a.comm);
    }
    normalize_train(d, x, gamma, beta, moments, a.momentum, a.eps, out[0], out[1], out[2], running_mean,
                    running_var);
  }
  // The moments of every rank's rows with one collective: each rank's own (mean, m2, count),
  // two-pass or Welford, are gathered and merged with Chan et al.'s formula in rank order.
  // Summing (count, sum, sum of squares) in one all-reduce instead would take the variance as
  // E[x^2] - E[x]^2, which loses the variance to cancellation when |mean| >> std; the former
  // two-pass took a second all-reduce (squared deviations around the global mean) for that. The
  // merge adds only the spread of the rank means, each rank's m2 is its own stable one, and every
  // rank merges the same gathered bytes in the same order: bit-identical statistics on all ranks
  // whatever the collective's own summation order. The gather moves W (2C + 1) doubles.
  static void global_moments(const Tensor& x, comm::Communicator& comm, Tensor& moments) {
    Tensor local = Tensor::empty({1, moments.numel()}, DType::f64, x.device());
    local_moments(x.device(), x, local);
    const Tensor gathered = comm.all_gather(local);  // (W, 2C + 1)
    merge_moments(x.device(), gathered, moments);
  }
  static TensorList<5> backward(const TensorList<5>& in, const TensorList<4>& out, const Tensor& gy_out,
                                const Attrs& a, const std::array<bool, 5>&) {
    const Tensor &x = in[0], &gamma = in[1];
    const Tensor &mean = out[1], &spread = out[2];
    const Device d = x.device();
    Tensor gx = empty_like(x), dgamma = empty_like(gamma), dbeta = empty_like(in[2]);
    // The forward kept the ReLU's mask (u8) when it ran fused, and the same backend runs now.
    if (relu_fused(a, x) && out[3].dtype() == DType::u8) {
      backward_relu_fused(d, x, gy_out, gamma, mean, spread, out[3], gx, dgamma, dbeta);
      return {gx, dgamma, dbeta, Tensor(), Tensor()};
    }
    // Through the ReLU first: the gradient where y > 0.
    Tensor gy = gy_out;
    if (a.relu) relu_backward(d, out[0], gy_out, gy = empty_like(gy_out));
    if (!a.training) {
      backward_eval(d, x, gy, gamma, mean, spread, a.eps, gx, dgamma, dbeta);
    } else if (fused(a, x)) {
      backward_fused(d, x, gy, gamma, mean, spread, gx, dgamma, dbeta);
    } else {
      // The backward's collective stays: every row's gradient needs the global sums of gy and
      // gy * xhat, and gy exists only now. Both sums travel in one all-reduce (2C doubles).
      Tensor sums = Tensor::empty({2 * x.dim(-1)}, DType::f64, d);
      backward_reduce(d, x, gy, mean, spread, sums, dgamma, dbeta);
      if (a.comm != nullptr) a.comm->all_reduce(sums, comm::ReduceOp::sum);
      backward_apply(d, x, gy, gamma, mean, spread, sums, out[3], gx);
    }
    return {gx, dgamma, dbeta, Tensor(), Tensor()};
  }
};

struct BatchNorm2dKind {
  static constexpr const char* name = "batch_norm2d";
  static constexpr int ndim = 4;
};

struct BatchNorm1dKind {
  static constexpr const char* name = "batch_norm1d";
  static constexpr int ndim = 2;
};

struct SyncBatchNormKind {
  static constexpr const char* name = "sync_batch_norm";
  static constexpr int ndim = 0;  // 4 or 2
};

}  // namespace

Tensor batch_norm2d(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                    Tensor& running_var, bool training, double momentum, double eps) {
  return apply<BatchNorm<BatchNorm2dKind>>({x, gamma, beta, running_mean, running_var},
                                           {training, momentum, eps, nullptr})[0];
}

Tensor batch_norm1d(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                    Tensor& running_var, bool training, double momentum, double eps) {
  return apply<BatchNorm<BatchNorm1dKind>>({x, gamma, beta, running_mean, running_var},
                                           {training, momentum, eps, nullptr})[0];
}

Tensor sync_batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                       Tensor& running_var, comm::Communicator& comm, double momentum, double eps) {
  return apply<BatchNorm<SyncBatchNormKind>>({x, gamma, beta, running_mean, running_var},
                                             {true, momentum, eps, &comm})[0];
}

Tensor batch_norm2d_relu(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                         Tensor& running_var, bool training, double momentum, double eps) {
  return apply<BatchNorm<BatchNorm2dKind>>({x, gamma, beta, running_mean, running_var},
                                           {training, momentum, eps, nullptr, true})[0];
}

Tensor batch_norm1d_relu(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                         Tensor& running_var, bool training, double momentum, double eps) {
  return apply<BatchNorm<BatchNorm1dKind>>({x, gamma, beta, running_mean, running_var},
                                           {training, momentum, eps, nullptr, true})[0];
}

Tensor sync_batch_norm_relu(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                            Tensor& running_var, comm::Communicator& comm, double momentum, double eps) {
  return apply<BatchNorm<SyncBatchNormKind>>({x, gamma, beta, running_mean, running_var},
                                             {true, momentum, eps, &comm, true})[0];
}

}  // namespace rsd
