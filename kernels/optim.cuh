// Fused multi-tensor optimizer steps (SGD, LARS, AdamW) over float parameters.
// Host header: plain C++, no engine types.
//
// The caller describes the tensors as an array of slots and cuts each into chunks of
// kMultiTensorChunk elements: chunk_start (n_slots + 1 int64) is the prefix sum of
// ceil(n / kMultiTensorChunk) over the slots (0 chunks for an empty slot), total_chunks its last
// entry. Both arrays live on the device; each launch runs one block per chunk, and a block finds
// its slot by binary search in chunk_start.
#pragma once
#include <cuda_runtime.h>
#include <cstdint>

namespace rsd::kernels {

struct MultiTensorSlot {
  float* param;
  const float* grad;
  float* state0;  // SGD / LARS: momentum buffer; AdamW: first moment m
  float* state1;  // AdamW: second moment v
  int64_t n;
  int32_t flags;  // kSlotExcluded: no weight decay, no LARS adaptation (BN parameters, biases)
};

constexpr int32_t kSlotExcluded = 1;
constexpr int64_t kMultiTensorChunk = 65536;

// The training step's guard: two floats on the device, written by step_guard
// (multi_tensor_ops.cuh) from the step's loss and gradient norm, so the host never reads them
// before the update. guard[kGuardSkip] != 0: the step is skipped (a non-finite loss or gradient):
// the kernels below return without writing anything. guard[kGuardScale]: the gradient clipping
// factor, applied to every gradient element as it is read. A null guard: apply, scale 1.
constexpr int kGuardSkip = 0;
constexpr int kGuardScale = 1;

// PyTorch SGD: g' = g + weight_decay * p (not for excluded slots); with momentum != 0,
// v = momentum * v + g' in state0 (zero-initialized by the caller) and
// update = nesterov ? g' + momentum * v : v; otherwise update = g' and state0 may be null.
// p -= lr * update.
void sgd_step(const MultiTensorSlot* slots, const int64_t* chunk_start, int n_slots, int64_t total_chunks, float lr,
              float momentum, float weight_decay, bool nesterov, cudaStream_t s,
              const float* guard = nullptr);

// Bytes of workspace lars_norms writes and lars_step reads: one float2 per chunk.
size_t lars_workspace_bytes(int64_t total_chunks);

// Per chunk: (sum p^2, sum d^2) with d = g + weight_decay * p, as float2 in the workspace.
// Excluded slots get (0, 0).
void lars_norms(const MultiTensorSlot* slots, const int64_t* chunk_start, int n_slots, int64_t total_chunks,
                float weight_decay, void* workspace, cudaStream_t s, const float* guard = nullptr);

// LARS step after lars_norms on the same workspace. Per slot |p| and |d| come from its chunks'
// partials added in chunk order; trust = (|p| > 0 && |d| > 0) ? eta * |p| / |d| : 1, and
// excluded slots use trust = 1 and no weight decay. d *= trust; with momentum != 0,
// v = momentum * v + d in state0 and p -= lr * v; otherwise p -= lr * d and state0 may be null.
void lars_step(const MultiTensorSlot* slots, const int64_t* chunk_start, int n_slots, int64_t total_chunks, float lr,
               float momentum, float weight_decay, float eta, const void* workspace, cudaStream_t s,
               const float* guard = nullptr);

// PyTorch AdamW, step >= 1: p *= 1 - lr * weight_decay (not for excluded slots);
// m = beta1 * m + (1 - beta1) * g; v = beta2 * v + (1 - beta2) * g^2 (state0 = m, state1 = v);
// p -= lr * (m / (1 - beta1^step)) / (sqrt(v / (1 - beta2^step)) + eps).
void adamw_step(const MultiTensorSlot* slots, const int64_t* chunk_start, int n_slots, int64_t total_chunks, float lr,
                float beta1, float beta2, float eps, float weight_decay, int64_t step, cudaStream_t s,
                const float* guard = nullptr);

}  // namespace rsd::kernels
