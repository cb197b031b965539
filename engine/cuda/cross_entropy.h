// CUDA side of engine/ops/cross_entropy.h.
#pragma once
#include "engine/tensor.h"

namespace rsd::cuda {

// logits: (N, K); labels: i32 (N); row_lse: f32 (N) for the backward pass; loss: f32 {1}, the
// mean over rows.
void softmax_cross_entropy_forward(const Tensor& logits, const Tensor& labels, Tensor& row_lse, Tensor& loss);
// gloss: f32 {1}, the gradient of the mean loss; glogits: (N, K).
void softmax_cross_entropy_backward(const Tensor& logits, const Tensor& labels, const Tensor& row_lse,
                                    const Tensor& gloss, Tensor& glogits);

}  // namespace rsd::cuda
