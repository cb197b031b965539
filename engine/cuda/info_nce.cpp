#include "engine/ops/info_nce_kernels.h"

#include <library_types.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/dispatch.h"
#include "engine/cuda/gemm.h"
#include "kernels/cast.cuh"
#include "kernels/elementwise.cuh"
#include "kernels/info_nce.cuh"
#include "kernels/l2norm.cuh"
#include "kernels/reduce.cuh"
#include "kernels/softmax_xent.cuh"

namespace rsd::cuda {

namespace {

constexpr const char* kOp = "info_nce_loss";
constexpr float kLn2 = 0.6931471805599453f;

std::string shapes(const InfoNceContext& ctx) {
  return str_cat(kOp, " (", variant_name(ctx.opt.variant), ") a ", ctx.a.describe(), ", b ", ctx.b.describe(),
                 ", tau ", ctx.tau.describe(), ", offset ", ctx.offset, ctx.opt.symmetric ? ", symmetric" : ", row-only");
}

Tensor floats(int64_t n, Device d) { return Tensor::empty({std::max<int64_t>(n, 1)}, DType::f32, d); }

cudaStream_t stream_of(const Tensor& t) { return context(t.device().index).stream; }

// loss[0] = scale * sum(row_loss): the deterministic two-stage reduction of kernels/reduce.
void reduce_rows(const Tensor& row_loss, Tensor& loss, float scale, const std::string& what) {
  const int64_t n = row_loss.numel();
  Tensor workspace = Tensor::empty({std::max<int64_t>(static_cast<int64_t>(kernels::reduce_workspace_bytes(n)), 1)},
                                   DType::u8, row_loss.device());
  kernels::reduce_sum<float>(row_loss.data<float>(), loss.data<float>(), n, scale, workspace.raw(),
                             stream_of(row_loss));
  RSD_CUDA_CHECK_LAUNCH(what, " mean of the row losses");
}

// ---- fused path ----

template <typename T>
kernels::InfoNceProblem<T> problem(const InfoNceContext& ctx) {
  kernels::InfoNceProblem<T> p{};
  p.a = static_cast<const T*>(ctx.a.raw());
  p.b = static_cast<const T*>(ctx.b.raw());
  p.norms_a = ctx.norms_a.data<float>();
  p.norms_b = ctx.norms_b.data<float>();
  p.tau = ctx.tau.data<float>();
  p.N = ctx.a.dim(0);
  p.M = ctx.b.dim(0);
  p.D = ctx.a.dim(1);
  p.offset = ctx.offset;
  p.eps = static_cast<float>(ctx.opt.eps);
  p.symmetric = ctx.opt.symmetric;
  return p;
}

// Fills norms, lse_row, lse_col (log2 units: the fused kernels work in them) and the loss.
void fused_forward(InfoNceContext& ctx) {
  const std::string what = shapes(ctx);
  const Device dev = ctx.a.device();
  cudaStream_t stream = stream_of(ctx.a);
  const int64_t N = ctx.a.dim(0), M = ctx.b.dim(0);
  const bool sym = ctx.opt.symmetric;
  ctx.norms_a = Tensor::empty({N}, DType::f32, dev);
  ctx.norms_b = Tensor::empty({M}, DType::f32, dev);
  ctx.lse_row = Tensor::empty({N}, DType::f32, dev);
  if (sym) ctx.lse_col = Tensor::empty({N}, DType::f32, dev);
  ctx.loss = Tensor::empty({1}, DType::f32, dev);
  Tensor row_loss = Tensor::empty({N}, DType::f32, dev);
  dispatch_float(ctx.a.dtype(), kOp, [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor scratch = floats(kernels::info_nce_forward_scratch<T>(N, M, sym), dev);
    RSD_CUDA_CHECK(kernels::info_nce_forward<T>(problem<T>(ctx), ctx.norms_a.data<float>(), ctx.norms_b.data<float>(),
                                                ctx.lse_row.data<float>(), sym ? ctx.lse_col.data<float>() : nullptr,
                                                row_loss.data<float>(), scratch.data<float>(), stream),
                   what, ": fused forward's shared memory");
    RSD_CUDA_CHECK_LAUNCH(what, ": fused forward (norms, log-sum-exp passes, merge)");
  });
  // The row losses are in log2 units.
  reduce_rows(row_loss, ctx.loss, kLn2 / static_cast<float>(sym ? 2 * N : N), what);
}

// dA, dB and dtau: the rows pass (d a_hat and dtau), then the cols pass (d b_hat), in one scratch
// buffer of at most (N + M) D floats plus the dtau partials.
void fused_backward(const InfoNceContext& ctx, const Tensor& gloss, InfoNceGrads& grads) {
  const std::string what = shapes(ctx);
  const int64_t N = ctx.a.dim(0), M = ctx.b.dim(0), D = ctx.a.dim(1);
  dispatch_float(ctx.a.dtype(), kOp, [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor scratch = floats(kernels::info_nce_backward_scratch<T>(N, M, D), ctx.a.device());
    RSD_CUDA_CHECK(kernels::info_nce_backward<T>(problem<T>(ctx), ctx.lse_row.data<float>(),
                                                 ctx.opt.symmetric ? ctx.lse_col.data<float>() : nullptr,
                                                 gloss.data<float>(), static_cast<T*>(grads.da.raw()),
                                                 static_cast<T*>(grads.db.raw()), grads.dtau.data<float>(),
                                                 scratch.data<float>(), stream_of(ctx.a)),
                   what, ": fused backward's shared memory");
    RSD_CUDA_CHECK_LAUNCH(what, ": fused backward (rows pass, cols pass, normalization backward, dtau)");
  });
}

// ---- plain path: logits materialized in f32 ----

// s (R, C) f32 = x (R, D) y (C, D)^T with x, y f32 or bf16 and f32 accumulation (cuBLAS). Logits
// stay f32 even for bf16 inputs: rounding S (up to 1/tau in size) to bf16 would move every
// probability by up to 2^-9 / tau relative and miss the 1e-2 target at small tau. gemm() takes
// one dtype for all three operands, hence this call.
void logits_gemm(const Tensor& x, const Tensor& y, Tensor& s, const std::string& what) {
  const int64_t R = x.dim(0), C = y.dim(0), D = x.dim(1);
  RSD_CHECK(R <= INT32_MAX && C <= INT32_MAX && D <= INT32_MAX, what, ": too large for cuBLAS");
  const cudaDataType_t type = x.dtype() == DType::bf16 ? CUDA_R_16BF : CUDA_R_32F;
  const float alpha = 1.0f, beta = 0.0f;
  DeviceContext& ctx = context(x.device().index);
  // Row-major s (R, C) is column-major s^T (C, R) = y x^T, with y read as the column-major
  // (D, C) transposed and x as the column-major (D, R).
  RSD_CUBLAS_CHECK(cublasGemmEx(ctx.cublas, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(C), static_cast<int>(R),
                                static_cast<int>(D), &alpha, y.raw(), type, static_cast<int>(D), x.raw(), type,
                                static_cast<int>(D), &beta, s.raw(), CUDA_R_32F, static_cast<int>(C),
                                CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                   what, ": logits ", x.describe(), " x ", y.describe(), "^T");
}

// g (f32) in the dtype of the GEMM operands: itself for f32, a bf16 copy for bf16.
Tensor in_dtype(const Tensor& g, DType dtype, const std::string& what) {
  if (dtype == DType::f32) return g;
  Tensor out = Tensor::empty(g.shape(), DType::bf16, g.device());
  kernels::cast<float, __nv_bfloat16>(g.data<float>(), static_cast<__nv_bfloat16*>(out.raw()), g.numel(),
                                      stream_of(g));
  RSD_CUDA_CHECK_LAUNCH(what, ": logits gradient to bf16");
  return out;
}

void plain_forward(InfoNceContext& ctx) {
  const std::string what = shapes(ctx);
  const Device dev = ctx.a.device();
  cudaStream_t stream = stream_of(ctx.a);
  const int64_t N = ctx.a.dim(0), M = ctx.b.dim(0), D = ctx.a.dim(1);
  const bool sym = ctx.opt.symmetric;
  const float eps = static_cast<float>(ctx.opt.eps);
  RSD_CHECK(M <= INT32_MAX, what, ": the plain kernel's labels are int32");
  const DType dt = ctx.a.dtype();
  ctx.a_hat = Tensor::empty(ctx.a.shape(), dt, dev);
  ctx.b_hat = Tensor::empty(ctx.b.shape(), dt, dev);
  ctx.a_scaled = Tensor::empty(ctx.a.shape(), dt, dev);
  ctx.norms_a = Tensor::empty({N}, DType::f32, dev);
  ctx.norms_b = Tensor::empty({M}, DType::f32, dev);
  ctx.logits_row = Tensor::empty({N, M}, DType::f32, dev);
  ctx.labels_row = Tensor::empty({N}, DType::i32, dev);
  ctx.lse_row = Tensor::empty({N}, DType::f32, dev);
  ctx.loss = Tensor::empty({1}, DType::f32, dev);
  Tensor row_loss = Tensor::empty({N}, DType::f32, dev);
  dispatch_float(dt, kOp, [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::l2_normalize_forward<T>(static_cast<const T*>(ctx.a.raw()), static_cast<T*>(ctx.a_hat.raw()),
                                     ctx.norms_a.data<float>(), N, D, eps, stream);
    RSD_CUDA_CHECK_LAUNCH(what, ": normalize a");
    kernels::l2_normalize_forward<T>(static_cast<const T*>(ctx.b.raw()), static_cast<T*>(ctx.b_hat.raw()),
                                     ctx.norms_b.data<float>(), M, D, eps, stream);
    RSD_CUDA_CHECK_LAUNCH(what, ": normalize b");
    kernels::info_nce_plain_scale<T>(static_cast<const T*>(ctx.a_hat.raw()), ctx.tau.data<float>(),
                                     static_cast<T*>(ctx.a_scaled.raw()), N * D, stream);
    RSD_CUDA_CHECK_LAUNCH(what, ": a_hat / tau");
  });
  logits_gemm(ctx.a_scaled, ctx.b_hat, ctx.logits_row, what);
  kernels::info_nce_plain_labels(ctx.labels_row.data<int32_t>(), N, ctx.offset, stream);
  RSD_CUDA_CHECK_LAUNCH(what, ": row labels");
  kernels::softmax_xent_forward<float>(ctx.logits_row.data<float>(), ctx.labels_row.data<int32_t>(),
                                       row_loss.data<float>(), ctx.lse_row.data<float>(), N, M, stream);
  RSD_CUDA_CHECK_LAUNCH(what, ": row cross-entropy");
  if (sym) {
    // The column direction: logits_col (N, N) = b_hat[offset, offset + N) a_scaled^T, labels i.
    ctx.b_pos = Tensor::empty({N, D}, dt, dev);
    const size_t row_bytes = static_cast<size_t>(D) * dtype_size(dt);
    RSD_CUDA_CHECK(cudaMemcpyAsync(ctx.b_pos.raw(), static_cast<const char*>(ctx.b_hat.raw()) + ctx.offset * row_bytes,
                                   static_cast<size_t>(N) * row_bytes, cudaMemcpyDeviceToDevice, stream),
                   what, ": positive rows of b");
    ctx.logits_col = Tensor::empty({N, N}, DType::f32, dev);
    ctx.labels_col = Tensor::empty({N}, DType::i32, dev);
    ctx.lse_col = Tensor::empty({N}, DType::f32, dev);
    Tensor col_loss = Tensor::empty({N}, DType::f32, dev);
    logits_gemm(ctx.b_pos, ctx.a_scaled, ctx.logits_col, what);
    kernels::info_nce_plain_labels(ctx.labels_col.data<int32_t>(), N, 0, stream);
    RSD_CUDA_CHECK_LAUNCH(what, ": column labels");
    kernels::softmax_xent_forward<float>(ctx.logits_col.data<float>(), ctx.labels_col.data<int32_t>(),
                                         col_loss.data<float>(), ctx.lse_col.data<float>(), N, N, stream);
    RSD_CUDA_CHECK_LAUNCH(what, ": column cross-entropy");
    kernels::add<float>(row_loss.data<float>(), col_loss.data<float>(), row_loss.data<float>(), N, stream);
    RSD_CUDA_CHECK_LAUNCH(what, ": row + column losses");
  }
  reduce_rows(row_loss, ctx.loss, 1.0f / static_cast<float>(sym ? 2 * N : N), what);
}

// Backward through the cross-entropies (dL/dlogits, f32), the GEMMs (in the inputs' dtype), the
// scaling by 1/tau and the normalizations; dtau = -sum(G logits) / tau.
void plain_backward(const InfoNceContext& ctx, const Tensor& gloss, InfoNceGrads& grads) {
  const std::string what = shapes(ctx);
  const Device dev = ctx.a.device();
  cudaStream_t stream = stream_of(ctx.a);
  const int64_t N = ctx.a.dim(0), M = ctx.b.dim(0), D = ctx.a.dim(1);
  const bool sym = ctx.opt.symmetric;
  const float eps = static_cast<float>(ctx.opt.eps);
  const DType dt = ctx.a.dtype();
  // Each direction is a mean cross-entropy weighted 1/2 (symmetric) or 1.
  Tensor g_dir = Tensor::empty({1}, DType::f32, dev);
  kernels::fill_from_scalar<float>(gloss.data<float>(), sym ? 0.5f : 1.0f, g_dir.data<float>(), 1, stream);
  RSD_CUDA_CHECK_LAUNCH(what, ": loss gradient per direction");
  const int64_t row_blocks = kernels::info_nce_plain_dot_blocks(N * M);
  const int64_t col_blocks = sym ? kernels::info_nce_plain_dot_blocks(N * N) : 0;
  Tensor dot_partials = floats(row_blocks + col_blocks, dev);

  Tensor g_row = Tensor::empty({N, M}, DType::f32, dev);
  kernels::softmax_xent_backward<float>(ctx.logits_row.data<float>(), ctx.labels_row.data<int32_t>(),
                                        ctx.lse_row.data<float>(), g_dir.data<float>(), g_row.data<float>(), N, M,
                                        stream);
  RSD_CUDA_CHECK_LAUNCH(what, ": row cross-entropy backward");
  kernels::info_nce_plain_dot_partials(g_row.data<float>(), ctx.logits_row.data<float>(), N * M,
                                       dot_partials.data<float>(), stream);
  RSD_CUDA_CHECK_LAUNCH(what, ": sum of G S over the rows");
  Tensor g_col;
  if (sym) {
    g_col = Tensor::empty({N, N}, DType::f32, dev);
    kernels::softmax_xent_backward<float>(ctx.logits_col.data<float>(), ctx.labels_col.data<int32_t>(),
                                          ctx.lse_col.data<float>(), g_dir.data<float>(), g_col.data<float>(), N, N,
                                          stream);
    RSD_CUDA_CHECK_LAUNCH(what, ": column cross-entropy backward");
    kernels::info_nce_plain_dot_partials(g_col.data<float>(), ctx.logits_col.data<float>(), N * N,
                                         dot_partials.data<float>() + row_blocks, stream);
    RSD_CUDA_CHECK_LAUNCH(what, ": sum of G S over the columns");
  }
  kernels::info_nce_dtau(dot_partials.data<float>(), row_blocks + col_blocks, ctx.tau.data<float>(),
                         grads.dtau.data<float>(), stream);
  RSD_CUDA_CHECK_LAUNCH(what, ": dtau");

  // logits_row = a_scaled b_hat^T, logits_col = b_pos a_scaled^T.
  Tensor da_scaled = Tensor::empty({N, D}, dt, dev);
  Tensor db_hat = Tensor::empty({M, D}, dt, dev);
  const Tensor gr = in_dtype(g_row, dt, what);
  gemm(kOp, gr, false, ctx.b_hat, false, da_scaled);
  gemm(kOp, gr, true, ctx.a_scaled, false, db_hat);
  if (sym) {
    const Tensor gc = in_dtype(g_col, dt, what);
    gemm(kOp, gc, true, ctx.b_pos, false, da_scaled, 1.0f, 1.0f);
    Tensor db_pos = Tensor::empty({N, D}, dt, dev);
    gemm(kOp, gc, false, ctx.a_scaled, false, db_pos);
    dispatch_float(dt, kOp, [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* rows = static_cast<T*>(db_hat.raw()) + ctx.offset * D;
      kernels::add<T>(rows, static_cast<const T*>(db_pos.raw()), rows, N * D, stream);
    });
    RSD_CUDA_CHECK_LAUNCH(what, ": gradient of the positive rows of b");
  }
  dispatch_float(dt, kOp, [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor da_hat = Tensor::empty({N, D}, dt, dev);
    kernels::info_nce_plain_scale<T>(static_cast<const T*>(da_scaled.raw()), ctx.tau.data<float>(),
                                     static_cast<T*>(da_hat.raw()), N * D, stream);
    RSD_CUDA_CHECK_LAUNCH(what, ": d a_hat = d a_scaled / tau");
    kernels::l2_normalize_backward<T>(static_cast<const T*>(da_hat.raw()), static_cast<const T*>(ctx.a_hat.raw()),
                                      ctx.norms_a.data<float>(), static_cast<T*>(grads.da.raw()), N, D, eps, stream);
    RSD_CUDA_CHECK_LAUNCH(what, ": normalization backward of a");
    kernels::l2_normalize_backward<T>(static_cast<const T*>(db_hat.raw()), static_cast<const T*>(ctx.b_hat.raw()),
                                      ctx.norms_b.data<float>(), static_cast<T*>(grads.db.raw()), M, D, eps, stream);
    RSD_CUDA_CHECK_LAUNCH(what, ": normalization backward of b");
  });
}

}  // namespace

void info_nce_forward(InfoNceContext& ctx) {
  if (ctx.opt.variant == Variant::plain) {
    plain_forward(ctx);
  } else {
    fused_forward(ctx);
  }
}

void info_nce_backward(const InfoNceContext& ctx, const Tensor& gloss, InfoNceGrads& grads) {
  RSD_CHECK(gloss.dtype() == DType::f32 && grads.dtau.dtype() == DType::f32, shapes(ctx),
            " backward: the loss gradient ", gloss.describe(), " and tau must be f32");
  if (ctx.opt.variant == Variant::plain) {
    plain_backward(ctx, gloss, grads);
  } else {
    fused_backward(ctx, gloss, grads);
  }
}

}  // namespace rsd::cuda
