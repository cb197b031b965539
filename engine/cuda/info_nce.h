// CUDA side of engine/ops/info_nce.h: the fused tiled path (kernels/info_nce.cu) and the plain
// path with materialized f32 logits, chosen by ctx.opt.kernel. Arguments are checked by the op.
#pragma once
#include "engine/ops/info_nce.h"

namespace rsd::cuda {

// Fills ctx.loss and what the backward reads. Fused: norms_a, norms_b, lse_row, lse_col (f32).
// Plain: also a_hat, b_hat, a_scaled, b_pos, logits_row, logits_col, labels_row, labels_col.
void info_nce_forward(InfoNceContext& ctx);
// gloss: f32 {1} on the device; grads: allocated by the caller (shapes and dtypes of a, b, tau).
void info_nce_backward(const InfoNceContext& ctx, const Tensor& gloss, InfoNceGrads& grads);

}  // namespace rsd::cuda
