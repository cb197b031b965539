// info_nce_loss on the fast CPU backend (engine/ops/info_nce_kernels.h), f32: the GPU design of
// kernels/info_nce.cu on CPU GEMM tiles. The logits S = a_hat b_hat^T / tau are produced one block
// of kColumns columns at a time, (N, kColumns), by oneDNN's GEMM on the OpenMP pool, and folded
// at once into a running max and sum per row (the online log-sum-exp); a block holds every row of
// A, so the column direction's log-sum-exp over the positive columns it holds is finished in the
// same pass. The backward recomputes each block, turns it into dL/dS in place and takes dA and dB
// from it with two more GEMMs. Memory beyond the inputs: the normalized rows and one block,
// O((N + M) D + N kColumns); the N x M logits never exist. f64 goes to the reference.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "engine/ops/info_nce_kernels.h"
#include "engine/onednn/context.h"

namespace rsd::onednn {

namespace {

// Columns of S per block: wide enough for efficient GEMMs, narrow enough that a block of a few
// thousand rows stays in the last-level cache between the GEMM and the passes over it.
constexpr int64_t kColumns = 128;

// exp(x) for x <= 0, in a form the compiler vectorizes (libm's expf is one call per element):
// x = n ln2 + r with |r| <= ln2 / 2 (n rounded by the 1.5 * 2^23 trick, ln2 split in two as
// Cody-Waite), exp(r) by its degree-7 Taylor polynomial (truncation < 5e-9), 2^n from the exponent
// bits. Relative error a few float ulps; x below -87 gives exp(-87) ~ 1.6e-38 instead of a
// denormal or 0, negligible beside the row's largest term, which is 1.
inline float exp_nonpositive(float x) {
  x = std::max(x, -87.0f);
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23
  const float n = (x * 1.44269504088896341f + kRound) - kRound;
  const float r = (x - n * 0.693145751953125f) - n * 1.42860682030941723e-6f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

// c (R, C) = alpha * x (R, D) y (C, D)^T: one block of logits.
void logits_block(const float* x, const float* y, float* c, int64_t R, int64_t C, int64_t D, float alpha) {
  dnnl::sgemm('N', 'T', R, C, D, alpha, x, D, y, D, 0.0f, c, C);
}

// y (R, D) = x_r / max(|x_r|, eps); norms (R) = |x_r| (unclamped, as the reference keeps them).
void normalize_rows(const float* x, float* y, float* norms, int64_t R, int64_t D, double eps) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < R; ++r) {
    const float* xr = x + r * D;
    double ss = 0.0;
#pragma omp simd reduction(+ : ss)
    for (int64_t d = 0; d < D; ++d) ss += static_cast<double>(xr[d]) * xr[d];
    const double norm = std::sqrt(ss);
    const float inv = static_cast<float>(1.0 / std::max(norm, eps));
    norms[r] = static_cast<float>(norm);
    for (int64_t d = 0; d < D; ++d) y[r * D + d] = xr[d] * inv;
  }
}

// In place: g (R, D), the gradient of y = x / max(|x|, eps), becomes the gradient of x.
void normalize_backward(float* g, const float* y, const float* norms, int64_t R, int64_t D, double eps) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < R; ++r) {
    float* gr = g + r * D;
    const float* yr = y + r * D;
    const double norm = norms[r];
    double dot = 0.0;
    if (norm > eps) {
#pragma omp simd reduction(+ : dot)
      for (int64_t d = 0; d < D; ++d) dot += static_cast<double>(gr[d]) * yr[d];
    }
    const float inv = static_cast<float>(1.0 / std::max(norm, eps));
    const float fdot = static_cast<float>(dot);
    for (int64_t d = 0; d < D; ++d) gr[d] = (gr[d] - yr[d] * fdot) * inv;
  }
}

// The positive columns [offset, offset + N) of S that a block [c0, c0 + C) holds, in block columns.
struct PositiveRange {
  int64_t lo = 0, hi = 0;  // block columns; empty when lo >= hi
};
PositiveRange positives_in(int64_t c0, int64_t C, int64_t offset, int64_t N) {
  return {std::max<int64_t>(offset - c0, 0), std::min<int64_t>(offset + N - c0, C)};
}

// Folds a block (R, C) into each row's running max and sum of exponentials.
void fold_rows(const float* block, int64_t R, int64_t C, double* row_max, double* row_sum) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < R; ++r) {
    const float* s = block + r * C;
    float m = s[0];
#pragma omp simd reduction(max : m)
    for (int64_t c = 0; c < C; ++c) m = std::max(m, s[c]);
    if (m > row_max[r]) {
      row_sum[r] *= std::exp(row_max[r] - m);
      row_max[r] = m;
    }
    const float shift = static_cast<float>(row_max[r]);
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t c = 0; c < C; ++c) sum += exp_nonpositive(s[c] - shift);
    row_sum[r] += sum;
  }
}

// The column log-sum-exps over all R rows of a block's columns [lo, hi): lse[c - lo].
void column_lse(const float* block, int64_t R, int64_t C, int64_t lo, int64_t hi, float* lse) {
  constexpr int64_t kChunk = 16;
  const int64_t chunks = (hi - lo + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < chunks; ++k) {
    const int64_t c0 = lo + k * kChunk, w = std::min(kChunk, hi - c0);
    float mx[kChunk];
    double sum[kChunk];
    for (int64_t c = 0; c < w; ++c) {
      mx[c] = -std::numeric_limits<float>::infinity();
      sum[c] = 0.0;
    }
    for (int64_t r = 0; r < R; ++r)
      for (int64_t c = 0; c < w; ++c) mx[c] = std::max(mx[c], block[r * C + c0 + c]);
    for (int64_t r = 0; r < R; ++r)
      for (int64_t c = 0; c < w; ++c) sum[c] += exp_nonpositive(block[r * C + c0 + c] - mx[c]);
    for (int64_t c = 0; c < w; ++c) lse[c0 - lo + c] = mx[c] + static_cast<float>(std::log(sum[c]));
  }
}

// Runs the blocks of S = a_hat b_hat^T / tau through `visit(block, c0, C)`, block (N, C).
template <typename Visit>
void for_each_block(const InfoNceContext& ctx, float* block, float inv_tau, Visit&& visit) {
  const int64_t N = ctx.a.dim(0), M = ctx.b.dim(0), D = ctx.a.dim(1);
  for (int64_t c0 = 0; c0 < M; c0 += kColumns) {
    const int64_t C = std::min(kColumns, M - c0);
    logits_block(ctx.a_hat.data<float>(), ctx.b_hat.data<float>() + c0 * D, block, N, C, D, inv_tau);
    visit(block, c0, C);
  }
}

Tensor block_buffer(const InfoNceContext& ctx) {
  return Tensor::empty({ctx.a.dim(0), std::min(kColumns, ctx.b.dim(0))}, DType::f32);
}

}  // namespace

void info_nce_forward(InfoNceContext& ctx) {
  if (ctx.a.dtype() != DType::f32) return cpu::info_nce_forward(ctx);
  apply_thread_budget();
  const int64_t N = ctx.a.dim(0), M = ctx.b.dim(0), D = ctx.a.dim(1), off = ctx.offset;
  const bool sym = ctx.opt.symmetric;
  ctx.a_hat = Tensor::empty({N, D}, DType::f32);
  ctx.b_hat = Tensor::empty({M, D}, DType::f32);
  ctx.norms_a = Tensor::empty({N}, DType::f32);
  ctx.norms_b = Tensor::empty({M}, DType::f32);
  normalize_rows(ctx.a.data<float>(), ctx.a_hat.data<float>(), ctx.norms_a.data<float>(), N, D, ctx.opt.eps);
  normalize_rows(ctx.b.data<float>(), ctx.b_hat.data<float>(), ctx.norms_b.data<float>(), M, D, ctx.opt.eps);
  ctx.lse_row = Tensor::empty({N}, DType::f32);
  if (sym) ctx.lse_col = Tensor::empty({N}, DType::f32);
  std::vector<double> row_max(static_cast<size_t>(N), -std::numeric_limits<double>::infinity());
  std::vector<double> row_sum(static_cast<size_t>(N), 0.0);
  std::vector<float> positive(static_cast<size_t>(N));
  Tensor block = block_buffer(ctx);
  for_each_block(ctx, block.data<float>(), static_cast<float>(1.0 / ctx.tau.item()), [&](float* s, int64_t c0, int64_t C) {
    fold_rows(s, N, C, row_max.data(), row_sum.data());
    const PositiveRange p = positives_in(c0, C, off, N);
    for (int64_t c = p.lo; c < p.hi; ++c) {
      const int64_t i = c0 + c - off;  // the row whose positive is this column
      positive[static_cast<size_t>(i)] = s[i * C + c];
    }
    if (sym && p.lo < p.hi) column_lse(s, N, C, p.lo, p.hi, ctx.lse_col.data<float>() + (c0 + p.lo - off));
  });
  double total = 0.0;
  for (int64_t i = 0; i < N; ++i) {
    const double row = row_max[static_cast<size_t>(i)] + std::log(row_sum[static_cast<size_t>(i)]);
    ctx.lse_row.data<float>()[i] = static_cast<float>(row);
    total += row - positive[static_cast<size_t>(i)];
    if (sym) total += static_cast<double>(ctx.lse_col.data<float>()[i]) - positive[static_cast<size_t>(i)];
  }
  ctx.loss = Tensor::empty({1}, DType::f32);
  ctx.loss.data<float>()[0] = static_cast<float>(total / static_cast<double>(N * (sym ? 2 : 1)));
}

namespace {

// In place: a block of S (N, C) at columns c0 becomes G = dL/dS (see the reference's backward);
// returns sum_ij G_ij S_ij over the block, for the gradient of tau.
double block_gradient(const InfoNceContext& ctx, float* s, int64_t c0, int64_t C, double g) {
  const int64_t N = ctx.a.dim(0), off = ctx.offset;
  const bool sym = ctx.opt.symmetric;
  const float w_r = static_cast<float>(g / static_cast<double>(N * (sym ? 2 : 1)));
  const float w_c = sym ? static_cast<float>(g / static_cast<double>(2 * N)) : 0.0f;
  // Block columns [lo, hi) are positive columns, which the column direction's softmax reaches too.
  const PositiveRange p = positives_in(c0, C, off, N);
  const int64_t lo = sym ? std::clamp<int64_t>(p.lo, 0, C) : C;
  const int64_t hi = sym ? std::clamp<int64_t>(p.hi, lo, C) : C;
  const float* lse_row = ctx.lse_row.data<float>();
  // lse_col of block column c is lse_col[c + c0 - off], for c in [p.lo, p.hi).
  const float* lse_col = sym ? ctx.lse_col.data<float>() + (c0 - off) : nullptr;
  double gs_total = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : gs_total)
  for (int64_t r = 0; r < N; ++r) {
    float* row = s + r * C;
    const float lr = lse_row[r];
    const int64_t diag = off + r - c0;  // the positive's block column, if in [0, C)
    const bool has_diag = diag >= 0 && diag < C;
    const float s_diag = has_diag ? row[diag] : 0.0f;
    float gs = 0.0f;
#pragma omp simd reduction(+ : gs)
    for (int64_t c = 0; c < lo; ++c) {
      const float gc = w_r * exp_nonpositive(row[c] - lr);
      gs += gc * row[c];
      row[c] = gc;
    }
#pragma omp simd reduction(+ : gs)
    for (int64_t c = lo; c < hi; ++c) {
      const float gc = w_r * exp_nonpositive(row[c] - lr) + w_c * exp_nonpositive(row[c] - lse_col[c]);
      gs += gc * row[c];
      row[c] = gc;
    }
#pragma omp simd reduction(+ : gs)
    for (int64_t c = hi; c < C; ++c) {
      const float gc = w_r * exp_nonpositive(row[c] - lr);
      gs += gc * row[c];
      row[c] = gc;
    }
    if (has_diag) {
      row[diag] -= w_r + w_c;
      gs -= (w_r + w_c) * s_diag;
    }
    gs_total += gs;
  }
  return gs_total;
}

}  // namespace

void info_nce_backward(const InfoNceContext& ctx, const Tensor& gloss, InfoNceGrads& grads) {
  if (ctx.a.dtype() != DType::f32 || ctx.a_hat.dtype() != DType::f32) return cpu::info_nce_backward(ctx, gloss, grads);
  apply_thread_budget();
  const int64_t N = ctx.a.dim(0), D = ctx.a.dim(1);
  const double tau = ctx.tau.item();
  const float inv_tau = static_cast<float>(1.0 / tau);
  const double g = gloss.item();
  float* da = grads.da.data<float>();  // d a_hat, then d a in place
  float* db = grads.db.data<float>();  // d b_hat, then d b in place
  const float* a_hat = ctx.a_hat.data<float>();
  double gs = 0.0;
  Tensor block = block_buffer(ctx);
  for_each_block(ctx, block.data<float>(), inv_tau, [&](float* s, int64_t c0, int64_t C) {
    gs += block_gradient(ctx, s, c0, C, g);
    // d a_hat += G b_hat[c0 : c0 + C] / tau;  d b_hat[c0 : c0 + C] = G^T a_hat / tau.
    dnnl::sgemm('N', 'N', N, D, C, inv_tau, s, C, ctx.b_hat.data<float>() + c0 * D, D, c0 == 0 ? 0.0f : 1.0f, da, D);
    dnnl::sgemm('T', 'N', C, D, N, inv_tau, s, C, a_hat, D, 0.0f, db + c0 * D, D);
  });
  normalize_backward(da, a_hat, ctx.norms_a.data<float>(), N, D, ctx.opt.eps);
  normalize_backward(db, ctx.b_hat.data<float>(), ctx.norms_b.data<float>(), ctx.b.dim(0), D, ctx.opt.eps);
  grads.dtau.copy_from(Tensor::from_vector({-gs / tau}, ctx.tau.shape(), DType::f64));
}

}  // namespace rsd::onednn
