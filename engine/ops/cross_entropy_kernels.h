// The kernels of softmax_cross_entropy (engine/ops/cross_entropy.h), declared once for every
// backend: engine/cpu/cross_entropy.cpp (the reference) and engine/cuda/cross_entropy.cpp.
#pragma once
#include "engine/op.h"

namespace rsd {

// logits: (N, K); labels: i32 (N); row_lse (N), kept for the backward, and loss {1}, the mean over
// rows: f32 on CUDA, the logits' dtype on the CPU.
RSD_DECLARE_KERNEL(softmax_cross_entropy_forward,
                   (const Tensor& logits, const Tensor& labels, Tensor& row_lse, Tensor& loss));
// gloss {1}: the gradient of the mean loss; glogits: (N, K).
RSD_DECLARE_KERNEL(softmax_cross_entropy_backward, (const Tensor& logits, const Tensor& labels,
                                                    const Tensor& row_lse, const Tensor& gloss, Tensor& glogits));

}  // namespace rsd
