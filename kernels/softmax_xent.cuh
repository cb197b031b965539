// Softmax cross-entropy over logits: (N, K) row-major with int32 labels: (N).
// Host header: plain C++, no engine types.
#pragma once
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cstdint>

namespace rsd::kernels {

// row_lse[n] = logsumexp(logits[n, :]) (max-subtracted, in float);
// row_loss[n] = row_lse[n] - logits[n, labels[n]]. Labels must lie in [0, K) (checked by the
// caller). T: float, __nv_bfloat16.
template <typename T>
void softmax_xent_forward(const T* logits, const int32_t* labels, float* row_loss, float* row_lse, int64_t N,
                          int64_t K, cudaStream_t s);

// glogits[n, k] = (exp(logits[n, k] - row_lse[n]) - [k == labels[n]]) * gloss[0] / N, where
// gloss is one device float: the gradient of the mean loss. T: float, __nv_bfloat16.
template <typename T>
void softmax_xent_backward(const T* logits, const int32_t* labels, const float* row_lse, const float* gloss,
                           T* glogits, int64_t N, int64_t K, cudaStream_t s);

}  // namespace rsd::kernels
