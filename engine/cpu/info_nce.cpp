// The CPU reference of info_nce_loss (engine/ops/info_nce_kernels.h).
#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/dispatch.h"
#include "engine/ops/info_nce_kernels.h"

namespace rsd {

// The CPU reference. Everything is materialized: the normalized rows (in the inputs' dtype T),
// S (N, M) in T; sums, log-sum-exps and gradients run in double and are rounded to T once.
namespace cpu {

namespace {

// x: (R, D) -> y: (R, D), y_r = x_r / max(|x_r|, eps); norms (R) unclamped, as l2_normalize.
template <typename T>
void normalize_rows(const T* x, T* y, T* norms, int64_t R, int64_t D, double eps) {
  for (int64_t r = 0; r < R; ++r) {
    double ss = 0.0;
    for (int64_t d = 0; d < D; ++d) ss += static_cast<double>(x[r * D + d]) * static_cast<double>(x[r * D + d]);
    const double norm = std::sqrt(ss);
    const double inv = 1.0 / std::max(norm, eps);
    norms[r] = static_cast<T>(norm);
    for (int64_t d = 0; d < D; ++d) y[r * D + d] = static_cast<T>(static_cast<double>(x[r * D + d]) * inv);
  }
}

// S: (N, M), S_ij = <a_hat_i, b_hat_j> / tau, stored in T.
template <typename T>
std::vector<T> logits(const T* a_hat, const T* b_hat, int64_t N, int64_t M, int64_t D, double tau) {
  std::vector<T> s(static_cast<size_t>(N * M));
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < M; ++j) {
      double dot = 0.0;
      for (int64_t d = 0; d < D; ++d) dot += static_cast<double>(a_hat[i * D + d]) * static_cast<double>(b_hat[j * D + d]);
      s[static_cast<size_t>(i * M + j)] = static_cast<T>(dot / tau);
    }
  return s;
}

// log sum_k exp(p[k * stride]) for k < n, with the maximum subtracted.
template <typename T>
double log_sum_exp(const T* p, int64_t n, int64_t stride) {
  double mx = static_cast<double>(p[0]);
  for (int64_t k = 1; k < n; ++k) mx = std::max(mx, static_cast<double>(p[k * stride]));
  double s = 0.0;
  for (int64_t k = 0; k < n; ++k) s += std::exp(static_cast<double>(p[k * stride]) - mx);
  return mx + std::log(s);
}

// gx (R, D) = l2_normalize backward of gy (double) through y = x_hat with the forward's norms.
template <typename T>
void normalize_backward(const std::vector<double>& gy, const T* y, const T* norms, T* gx, int64_t R, int64_t D,
                        double eps) {
  for (int64_t r = 0; r < R; ++r) {
    const double norm = static_cast<double>(norms[r]);
    double dot = 0.0;
    if (norm > eps)
      for (int64_t d = 0; d < D; ++d) dot += gy[static_cast<size_t>(r * D + d)] * static_cast<double>(y[r * D + d]);
    const double inv = 1.0 / std::max(norm, eps);
    for (int64_t d = 0; d < D; ++d) {
      const int64_t k = r * D + d;
      gx[k] = static_cast<T>((gy[static_cast<size_t>(k)] - static_cast<double>(y[k]) * dot) * inv);
    }
  }
}

}  // namespace

void info_nce_forward(InfoNceContext& ctx) {
  dispatch_cpu_float(ctx.a.dtype(), "info_nce_loss", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t N = ctx.a.dim(0), M = ctx.b.dim(0), D = ctx.a.dim(1), off = ctx.offset;
    const bool sym = ctx.opt.symmetric;
    const double tau = ctx.tau.item();
    const DType dt = ctx.a.dtype();
    ctx.a_hat = Tensor::empty({N, D}, dt);
    ctx.b_hat = Tensor::empty({M, D}, dt);
    ctx.norms_a = Tensor::empty({N}, dt);
    ctx.norms_b = Tensor::empty({M}, dt);
    normalize_rows(ctx.a.data<T>(), ctx.a_hat.data<T>(), ctx.norms_a.data<T>(), N, D, ctx.opt.eps);
    normalize_rows(ctx.b.data<T>(), ctx.b_hat.data<T>(), ctx.norms_b.data<T>(), M, D, ctx.opt.eps);
    const std::vector<T> s = logits(ctx.a_hat.data<T>(), ctx.b_hat.data<T>(), N, M, D, tau);
    ctx.lse_row = Tensor::empty({N}, dt);
    if (sym) ctx.lse_col = Tensor::empty({N}, dt);
    double total = 0.0;
    for (int64_t i = 0; i < N; ++i) {
      const double positive = static_cast<double>(s[static_cast<size_t>(i * M + off + i)]);
      const double row = log_sum_exp(s.data() + i * M, M, 1);
      ctx.lse_row.data<T>()[i] = static_cast<T>(row);
      total += row - positive;
      if (sym) {
        const double col = log_sum_exp(s.data() + off + i, N, M);
        ctx.lse_col.data<T>()[i] = static_cast<T>(col);
        total += col - positive;
      }
    }
    ctx.loss = Tensor::empty({1}, dt);
    ctx.loss.data<T>()[0] = static_cast<T>(total / static_cast<double>(N * (sym ? 2 : 1)));
  });
}

// G_ij = dL/dS_ij = w_r (p_ij - [j == off+i]) + w_c (q_ij - [j == off+i]) on the positive columns,
// with p, q the row and column softmaxes; then d a_hat = G b_hat / tau, d b_hat = G^T a_hat / tau,
// dtau = -sum(G S) / tau, and the normalization's backward.
void info_nce_backward(const InfoNceContext& ctx, const Tensor& gloss, InfoNceGrads& grads) {
  dispatch_cpu_float(ctx.a.dtype(), "info_nce_loss backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t N = ctx.a.dim(0), M = ctx.b.dim(0), D = ctx.a.dim(1), off = ctx.offset;
    const bool sym = ctx.opt.symmetric;
    const double tau = ctx.tau.item();
    const double g = gloss.item();
    const double w_r = g / static_cast<double>(N * (sym ? 2 : 1));
    const double w_c = sym ? g / static_cast<double>(2 * N) : 0.0;
    const T* a_hat = ctx.a_hat.data<T>();
    const T* b_hat = ctx.b_hat.data<T>();
    const std::vector<T> s = logits(a_hat, b_hat, N, M, D, tau);
    std::vector<double> da_hat(static_cast<size_t>(N * D), 0.0), db_hat(static_cast<size_t>(M * D), 0.0);
    double gs = 0.0;
    for (int64_t i = 0; i < N; ++i) {
      const double lse_r = static_cast<double>(ctx.lse_row.data<T>()[i]);
      for (int64_t j = 0; j < M; ++j) {
        const double sij = static_cast<double>(s[static_cast<size_t>(i * M + j)]);
        const double positive = j == off + i ? 1.0 : 0.0;
        double gij = w_r * (std::exp(sij - lse_r) - positive);
        if (sym && j >= off && j < off + N)
          gij += w_c * (std::exp(sij - static_cast<double>(ctx.lse_col.data<T>()[j - off])) - positive);
        gs += gij * sij;
        for (int64_t d = 0; d < D; ++d) {
          da_hat[static_cast<size_t>(i * D + d)] += gij * static_cast<double>(b_hat[j * D + d]) / tau;
          db_hat[static_cast<size_t>(j * D + d)] += gij * static_cast<double>(a_hat[i * D + d]) / tau;
        }
      }
    }
    normalize_backward(da_hat, a_hat, ctx.norms_a.data<T>(), grads.da.data<T>(), N, D, ctx.opt.eps);
    normalize_backward(db_hat, b_hat, ctx.norms_b.data<T>(), grads.db.data<T>(), M, D, ctx.opt.eps);
    grads.dtau.copy_from(Tensor::from_vector({-gs / tau}, ctx.tau.shape(), DType::f64));
  });
}

}  // namespace cpu

}  // namespace rsd
