// Softmax cross-entropy of class logits against integer labels (the linear probes, SimCLR-style
// contrastive heads).
#pragma once
#include "engine/tensor.h"

namespace rsd {

// logits: (N, K); labels: i32 (N) on the same device, values in [0, K). Returns the mean over rows
// of logsumexp(logits_n) - logits_n[label_n], shape {1}: f32 on CUDA whatever the logits dtype
// (losses in fp32), the logits' dtype on the CPU. Backward: glogits = (softmax - onehot) * g / N.
Tensor softmax_cross_entropy(const Tensor& logits, const Tensor& labels);

}  // namespace rsd
