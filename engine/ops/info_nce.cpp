#include "engine/ops/info_nce.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/dispatch.h"
#include "engine/ops/checks.h"

#if RSD_HAVE_CUDA
#include "engine/cuda/info_nce.h"
#endif

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

namespace {

constexpr const char* kOp = "info_nce_loss";

std::string describe_all(const Tensor& a, const Tensor& b, const Tensor& tau) {
  return str_cat("a ", a.describe(), ", b ", b.describe(), ", tau ", tau.describe());
}

void check_dtypes(const Tensor& a, const Tensor& b, const Tensor& tau) {
  check::floating(kOp, "a", a);
  check::same_dtype(kOp, a, b);
  if (a.is_cuda()) {
    RSD_CHECK(a.dtype() == DType::f32 || a.dtype() == DType::bf16, kOp, ": a and b must be f32 or bf16 on CUDA, got ",
              describe_all(a, b, tau));
    RSD_CHECK(tau.dtype() == DType::f32, kOp, ": tau must be f32 on CUDA, got ", describe_all(a, b, tau));
  } else {
    RSD_CHECK(a.dtype() == DType::f32 || a.dtype() == DType::f64, kOp,
              ": a and b must be f32 or f64 on the CPU (cast first), got ", describe_all(a, b, tau));
    RSD_CHECK(tau.dtype() == DType::f32 || tau.dtype() == a.dtype(), kOp, ": tau must be f32 or a's dtype, got ",
              describe_all(a, b, tau));
  }
}

void check_info_nce(const Tensor& a, const Tensor& b, const Tensor& tau, int64_t offset, const InfoNceOptions& opt) {
  check::defined(kOp, "a", a);
  check::defined(kOp, "b", b);
  check::defined(kOp, "tau", tau);
  check::same_device(kOp, a, b);
  check::same_device(kOp, a, tau);
  check::ndim(kOp, "a", a, 2);
  check::ndim(kOp, "b", b, 2);
  check_dtypes(a, b, tau);
  RSD_CHECK(a.dim(1) == b.dim(1), kOp, ": a and b differ in D (", a.dim(1), " vs ", b.dim(1), "): ",
            describe_all(a, b, tau));
  RSD_CHECK(a.dim(0) > 0 && a.dim(1) > 0, kOp, ": a needs at least one row and one column: ", describe_all(a, b, tau));
  RSD_CHECK(offset >= 0 && offset <= b.dim(0) - a.dim(0), kOp, ": offset ", offset,
            " out of range: the positives b[offset, offset + N) must lie in b (0 <= offset, offset + N <= M) for ",
            describe_all(a, b, tau));
  RSD_CHECK(tau.numel() == 1, kOp, ": tau must have one element: ", describe_all(a, b, tau));
  RSD_CHECK(opt.eps > 0.0, kOp, ": eps must be positive, got ", opt.eps, " for ", describe_all(a, b, tau));
  const double t = tau.item();
  RSD_CHECK(t > 0.0 && std::isfinite(t), kOp, ": tau must be positive and finite, got ", t, " for ",
            describe_all(a, b, tau));
}

}  // namespace

InfoNceContext info_nce_forward(const Tensor& a, const Tensor& b, const Tensor& tau, int64_t offset,
                                const InfoNceOptions& opt) {
  check_info_nce(a, b, tau, offset, opt);
  InfoNceContext ctx;
  ctx.a = a;
  ctx.b = b;
  ctx.tau = tau;
  ctx.offset = offset;
  ctx.opt = opt;
  if (a.is_cuda()) {
    RSD_CUDA_CALL(cuda::info_nce_forward(ctx));
  } else {
    cpu::info_nce_forward(ctx);
  }
  return ctx;
}

InfoNceGrads info_nce_backward(const InfoNceContext& ctx, const Tensor& gloss) {
  RSD_CHECK(gloss.defined() && gloss.numel() == 1 && gloss.device() == ctx.loss.device() &&
                gloss.dtype() == ctx.loss.dtype(),
            kOp, " backward: the loss gradient must be one ", dtype_name(ctx.loss.dtype()), " element on ",
            ctx.loss.device().str(), ", got ", gloss.defined() ? gloss.describe() : std::string("undefined"),
            " for ", describe_all(ctx.a, ctx.b, ctx.tau));
  InfoNceGrads grads;
  grads.da = Tensor::empty(ctx.a.shape(), ctx.a.dtype(), ctx.a.device());
  grads.db = Tensor::empty(ctx.b.shape(), ctx.b.dtype(), ctx.b.device());
  grads.dtau = Tensor::empty(ctx.tau.shape(), ctx.tau.dtype(), ctx.tau.device());
  if (ctx.a.is_cuda()) {
    RSD_CUDA_CALL(cuda::info_nce_backward(ctx, gloss, grads));
  } else {
    cpu::info_nce_backward(ctx, gloss, grads);
  }
  return grads;
}

Tensor info_nce_loss(const Tensor& a, const Tensor& b, const Tensor& tau, int64_t offset, const InfoNceOptions& opt) {
  InfoNceContext ctx = info_nce_forward(a, b, tau, offset, opt);
  Tensor loss = ctx.loss;
  if (needs_grad({a, b, tau})) {
    record(kOp, {loss}, [ctx] {
      const InfoNceGrads grads = info_nce_backward(ctx, ctx.loss.grad());
      accumulate_grad(ctx.a, grads.da);
      accumulate_grad(ctx.b, grads.db);
      accumulate_grad(ctx.tau, grads.dtau);
    });
  }
  return loss;
}

}  // namespace rsd
