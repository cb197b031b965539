// The CPU reference of batch norm, with or without a communicator (engine/ops/batchnorm_kernels.h):
// the per-rank steps between which SyncBN all-reduces, so that one rank is batch norm bit for bit.
// x, y, gy, gx are viewed as (M, C) rows; per-channel tensors (C) have x's dtype; moments
// (2C + 1) and sums (2C) are f64; every sum and product runs in double.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/dispatch.h"
#include "engine/ops/batchnorm_kernels.h"

namespace rsd::cpu {

namespace {

inline int64_t channels(const Tensor& x) { return x.dim(-1); }
inline int64_t rows(const Tensor& x) { return channels(x) > 0 ? x.numel() / channels(x) : 0; }

template <typename T>
std::vector<double> to_doubles(const Tensor& v) {
  const T* p = v.data<T>();
  return std::vector<double>(p, p + v.numel());
}

// out[i] = values[i] rounded to T, for every element of out.
template <typename T>
void store(const double* values, Tensor& out) {
  T* p = out.data<T>();
  for (int64_t i = 0; i < out.numel(); ++i) p[i] = static_cast<T>(values[i]);
}

// y = (x - mean) * invstd * gamma + beta.
template <typename T>
void normalize(const Tensor& x, const Tensor& gamma, const Tensor& beta, const std::vector<double>& mean,
               const std::vector<double>& invstd, Tensor& y) {
  const int64_t M = rows(x), C = channels(x);
  const T* px = x.data<T>();
  const T* g = gamma.data<T>();
  const T* b = beta.data<T>();
  T* py = y.data<T>();
  for (int64_t r = 0; r < M; ++r)
    for (int64_t c = 0; c < C; ++c) {
      const double xhat = (static_cast<double>(px[r * C + c]) - mean[c]) * invstd[c];
      py[r * C + c] = static_cast<T>(xhat * static_cast<double>(g[c]) + static_cast<double>(b[c]));
    }
}

// dbeta (C) = sum_rows gy, dgamma (C) = sum_rows gy * xhat with xhat = (x - mean) * invstd.
template <typename T>
void affine_grads(const Tensor& x, const Tensor& gy, const std::vector<double>& mean,
                  const std::vector<double>& invstd, double* dgamma, double* dbeta) {
  const int64_t M = rows(x), C = channels(x);
  const T* px = x.data<T>();
  const T* pg = gy.data<T>();
  for (int64_t c = 0; c < C; ++c) dgamma[c] = dbeta[c] = 0.0;
  for (int64_t r = 0; r < M; ++r)
    for (int64_t c = 0; c < C; ++c) {
      const double g = static_cast<double>(pg[r * C + c]);
      dbeta[c] += g;
      dgamma[c] += g * (static_cast<double>(px[r * C + c]) - mean[c]) * invstd[c];
    }
}

// gx = gamma * invstd / n * (n * gy - dbeta - xhat * dgamma) for a batch of n rows whose sums
// dbeta, dgamma (C) are given (n = M for batch norm; the global count for SyncBN).
template <typename T>
void grad_input(const Tensor& x, const Tensor& gy, const Tensor& gamma, const std::vector<double>& mean,
                const std::vector<double>& invstd, const double* dbeta, const double* dgamma, double n, Tensor& gx) {
  const int64_t M = rows(x), C = channels(x);
  const T* px = x.data<T>();
  const T* pg = gy.data<T>();
  const T* g = gamma.data<T>();
  T* out = gx.data<T>();
  for (int64_t r = 0; r < M; ++r)
    for (int64_t c = 0; c < C; ++c) {
      const double xhat = (static_cast<double>(px[r * C + c]) - mean[c]) * invstd[c];
      const double k = static_cast<double>(g[c]) * invstd[c] / n;
      out[r * C + c] = static_cast<T>(k * (n * static_cast<double>(pg[r * C + c]) - dbeta[c] - xhat * dgamma[c]));
    }
}

template <typename T>
std::vector<double> invstd_of(const Tensor& var, double eps) {
  std::vector<double> invstd = to_doubles<T>(var);
  for (double& v : invstd) v = 1.0 / std::sqrt(v + eps);
  return invstd;
}

}  // namespace

// moments = [mean (C), m2 (C), M] of the local rows, two passes in double (zeros for M = 0).
void batch_norm_local_moments(const Tensor& x, Tensor& moments) {
  dispatch_cpu_float(x.dtype(), "batch_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t M = rows(x), C = channels(x);
    const T* px = x.data<T>();
    double* mean = moments.data<double>();
    double* m2 = mean + C;
    for (int64_t c = 0; c < 2 * C; ++c) mean[c] = 0.0;
    for (int64_t r = 0; r < M; ++r)
      for (int64_t c = 0; c < C; ++c) mean[c] += static_cast<double>(px[r * C + c]);
    for (int64_t c = 0; M > 0 && c < C; ++c) mean[c] /= static_cast<double>(M);
    for (int64_t r = 0; r < M; ++r)
      for (int64_t c = 0; c < C; ++c) {
        const double d = static_cast<double>(px[r * C + c]) - mean[c];
        m2[c] += d * d;
      }
    mean[2 * C] = static_cast<double>(M);
  });
}

// Chan et al.: the ranks' (n, mean, m2) merged one after the other in rank order; a rank of no
// rows adds nothing (and one rank's moments come back unchanged: SyncBN on one rank is batch norm).
void batch_norm_merge_moments(const Tensor& gathered, Tensor& moments) {
  const int64_t C = (moments.numel() - 1) / 2, stride = 2 * C + 1;
  const int64_t ranks = gathered.numel() / stride;
  const double* g = gathered.data<double>();
  double* out = moments.data<double>();
  double n = 0.0;
  for (int64_t c = 0; c < 2 * C; ++c) out[c] = 0.0;
  for (int64_t r = 0; r < ranks; ++r) {
    const double* rank = g + r * stride;
    const double nb = rank[2 * C];
    if (nb == 0.0) continue;
    const double total = n + nb;
    if (n == 0.0) {
      std::copy(rank, rank + 2 * C, out);
    } else {
      for (int64_t c = 0; c < C; ++c) {
        const double delta = rank[c] - out[c];
        out[c] += delta * (nb / total);
        out[C + c] = out[C + c] + rank[C + c] + delta * delta * (n * nb / total);
      }
    }
    n = total;
  }
  out[2 * C] = n;
}

// From the global moments: y = (x - mean) * invstd * gamma + beta with mean and invstd in double;
// save_mean / save_invstd keep them (in x's dtype) for the backward; the running statistics take
// the mean and the unbiased variance m2 / (n - 1).
void batch_norm_normalize_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& moments,
                                double momentum, double eps, Tensor& y, Tensor& save_mean, Tensor& save_invstd,
                                Tensor& running_mean, Tensor& running_var) {
  dispatch_cpu_float(x.dtype(), "batch_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t C = channels(x);
    const double* mo = moments.data<double>();
    const double* m2 = mo + C;
    const double n = mo[2 * C];
    std::vector<double> mean(mo, mo + C), invstd(static_cast<size_t>(C));
    T* rm = running_mean.data<T>();
    T* rv = running_var.data<T>();
    for (int64_t c = 0; c < C; ++c) {
      invstd[c] = 1.0 / std::sqrt(m2[c] / n + eps);
      rm[c] = static_cast<T>((1.0 - momentum) * static_cast<double>(rm[c]) + momentum * mean[c]);
      rv[c] = static_cast<T>((1.0 - momentum) * static_cast<double>(rv[c]) + momentum * m2[c] / (n - 1.0));
    }
    store<T>(mean.data(), save_mean);
    store<T>(invstd.data(), save_invstd);
    normalize<T>(x, gamma, beta, mean, invstd, y);
  });
}

// sums = [sum gy (C), sum gy * xhat (C)] over the local rows; dbeta, dgamma the same.
void batch_norm_backward_reduce(const Tensor& x, const Tensor& gy, const Tensor& save_mean, const Tensor& save_invstd,
                     Tensor& sums, Tensor& dgamma, Tensor& dbeta) {
  dispatch_cpu_float(x.dtype(), "batch_norm backward", [&](auto tag) {
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
void batch_norm_backward_apply(const Tensor& x, const Tensor& gy, const Tensor& gamma, const Tensor& save_mean,
                    const Tensor& save_invstd, const Tensor& sums, const Tensor& moments, Tensor& gx) {
  dispatch_cpu_float(x.dtype(), "batch_norm backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t C = channels(x);
    const std::vector<double> mean = to_doubles<T>(save_mean), invstd = to_doubles<T>(save_invstd);
    const double* db = sums.data<double>();
    grad_input<T>(x, gy, gamma, mean, invstd, db, db + C, moments.data<double>()[2 * C], gx);
  });
}

void batch_norm_forward_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& mean,
                            const Tensor& var, Tensor& y, double eps) {
  dispatch_cpu_float(x.dtype(), "batch_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    normalize<T>(x, gamma, beta, to_doubles<T>(mean), invstd_of<T>(var, eps), y);
  });
}

// gx = gy * gamma * invstd: the statistics are constants here.
void batch_norm_backward_eval(const Tensor& x, const Tensor& gy, const Tensor& gamma, const Tensor& mean,
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

}  // namespace rsd::cpu
