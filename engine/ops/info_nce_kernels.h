// The kernels of info_nce_loss (engine/ops/info_nce.h), declared once for every backend:
// engine/cpu/info_nce.cpp (the reference: everything materialized, sums in double),
// engine/onednn/info_nce.cpp (f32: tiled GEMMs with the online log-sum-exp, multithreaded) and
// engine/cuda/info_nce.cpp (the fused tiled path of kernels/info_nce.cu, or the plain path with
// materialized f32 logits, by ctx.opt.variant). Arguments are checked by the op.
#pragma once
#include "engine/op.h"
#include "engine/ops/info_nce.h"

namespace rsd {

// Fills ctx.loss and what the backward reads (InfoNceContext says which members each path uses).
RSD_DECLARE_KERNEL(info_nce_forward, (InfoNceContext & ctx));
RSD_DECLARE_ONEDNN_KERNEL(info_nce_forward)
// gloss {1}: the loss's gradient, read on the device; grads: allocated by the caller (shapes and
// dtypes of a, b, tau).
RSD_DECLARE_KERNEL(info_nce_backward, (const InfoNceContext& ctx, const Tensor& gloss, InfoNceGrads& grads));
RSD_DECLARE_ONEDNN_KERNEL(info_nce_backward)

}  // namespace rsd
