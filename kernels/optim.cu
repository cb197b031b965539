// Fused multi-tensor optimizer steps: one block per chunk of kMultiTensorChunk elements of one
// slot. Every block of a slot computes the slot's norms the same way, so LARS trust ratios agree
// across blocks and across runs.
#include "optim.cuh"

#include <cmath>

#include "common.cuh"
#include "multi_tensor.cuh"

namespace rsd::kernels {
namespace {

__global__ void sgd_kernel(const MultiTensorSlot* slots, const int64_t* chunk_start, int n_slots, float lr,
                           float momentum, float weight_decay, bool nesterov, const float* guard) {
  if (guard_skips(guard)) return;
  const float gs = guard_scale(guard);
  const ChunkView v = locate_chunk(slots, chunk_start, n_slots, blockIdx.x);
  const MultiTensorSlot& s = v.slot;
  const float wd = excluded(s) ? 0.0f : weight_decay;
  const bool use_momentum = momentum != 0.0f && s.state0 != nullptr;
  for (int64_t i = v.begin + threadIdx.x; i < v.end; i += blockDim.x) {
    const float p = s.param[i];
    const float g = s.grad[i] * gs + wd * p;
    float update = g;
    if (use_momentum) {
      const float buf = momentum * s.state0[i] + g;
      s.state0[i] = buf;
      update = nesterov ? g + momentum * buf : buf;
    }
    s.param[i] = p - lr * update;
  }
}

// partials: (total_chunks) of (sum p^2, sum d^2) over the chunk, d = g + weight_decay * p.
__global__ void lars_norms_kernel(const MultiTensorSlot* slots, const int64_t* chunk_start, int n_slots,
                                  float weight_decay, float2* partials, const float* guard) {
  if (guard_skips(guard)) return;
  const float gs = guard_scale(guard);
  const ChunkView v = locate_chunk(slots, chunk_start, n_slots, blockIdx.x);
  const MultiTensorSlot& s = v.slot;
  if (excluded(s)) {  // uniform over the block, so no thread reaches block_sum below
    if (threadIdx.x == 0) partials[blockIdx.x] = make_float2(0.0f, 0.0f);
    return;
  }
  float pp = 0.0f, dd = 0.0f;
  for (int64_t i = v.begin + threadIdx.x; i < v.end; i += blockDim.x) {
    const float p = s.param[i];
    const float d = s.grad[i] * gs + weight_decay * p;
    pp += p * p;
    dd += d * d;
  }
  pp = block_sum<kBlock>(pp);
  dd = block_sum<kBlock>(dd);
  if (threadIdx.x == 0) partials[blockIdx.x] = make_float2(pp, dd);
}

// eta * |p| / |d| for the slot, from its chunks' partials (same order in every block).
__device__ float lars_trust(const float2* partials, const int64_t* chunk_start, int slot, float eta) {
  float pp = 0.0f, dd = 0.0f;
  for (int64_t k = chunk_start[slot] + threadIdx.x; k < chunk_start[slot + 1]; k += blockDim.x) {
    pp += partials[k].x;
    dd += partials[k].y;
  }
  const float p_norm = sqrtf(block_sum<kBlock>(pp));
  const float d_norm = sqrtf(block_sum<kBlock>(dd));
  return (p_norm > 0.0f && d_norm > 0.0f) ? eta * p_norm / d_norm : 1.0f;
}

__global__ void lars_step_kernel(const MultiTensorSlot* slots, const int64_t* chunk_start, int n_slots, float lr,
                                 float momentum, float weight_decay, float eta, const float2* partials,
                                 const float* guard) {
  if (guard_skips(guard)) return;
  const float gs = guard_scale(guard);
  const ChunkView v = locate_chunk(slots, chunk_start, n_slots, blockIdx.x);
  const MultiTensorSlot& s = v.slot;
  const bool skip = excluded(s);
  const float wd = skip ? 0.0f : weight_decay;
  const float trust = skip ? 1.0f : lars_trust(partials, chunk_start, v.index, eta);
  const bool use_momentum = momentum != 0.0f && s.state0 != nullptr;
  for (int64_t i = v.begin + threadIdx.x; i < v.end; i += blockDim.x) {
    const float p = s.param[i];
    float update = (s.grad[i] * gs + wd * p) * trust;
    if (use_momentum) {
      update = momentum * s.state0[i] + update;
      s.state0[i] = update;
    }
    s.param[i] = p - lr * update;
  }
}

// bias1 = 1 - beta1^step, bias2 = 1 - beta2^step (computed on the host in double).
__global__ void adamw_kernel(const MultiTensorSlot* slots, const int64_t* chunk_start, int n_slots, float lr,
                             float beta1, float beta2, float eps, float weight_decay, float bias1, float bias2,
                             const float* guard) {
  if (guard_skips(guard)) return;
  const float gs = guard_scale(guard);
  const ChunkView v = locate_chunk(slots, chunk_start, n_slots, blockIdx.x);
  const MultiTensorSlot& s = v.slot;
  const float decay = excluded(s) ? 1.0f : 1.0f - lr * weight_decay;
  for (int64_t i = v.begin + threadIdx.x; i < v.end; i += blockDim.x) {
    const float g = s.grad[i] * gs;
    const float m = beta1 * s.state0[i] + (1.0f - beta1) * g;
    const float u = beta2 * s.state1[i] + (1.0f - beta2) * g * g;
    s.state0[i] = m;
    s.state1[i] = u;
    const float m_hat = m / bias1;
    const float u_hat = u / bias2;
    s.param[i] = s.param[i] * decay - lr * m_hat / (sqrtf(u_hat) + eps);
  }
}

}  // namespace

void sgd_step(const MultiTensorSlot* slots, const int64_t* chunk_start, int n_slots, int64_t total_chunks, float lr,
              float momentum, float weight_decay, bool nesterov, cudaStream_t s, const float* guard) {
  if (total_chunks <= 0 || n_slots <= 0) return;
  sgd_kernel<<<static_cast<unsigned>(total_chunks), kBlock, 0, s>>>(slots, chunk_start, n_slots, lr, momentum,
                                                                    weight_decay, nesterov, guard);
}

size_t lars_workspace_bytes(int64_t total_chunks) {
  return total_chunks > 0 ? static_cast<size_t>(total_chunks) * sizeof(float2) : 0;
}

void lars_norms(const MultiTensorSlot* slots, const int64_t* chunk_start, int n_slots, int64_t total_chunks,
                float weight_decay, void* workspace, cudaStream_t s, const float* guard) {
  if (total_chunks <= 0 || n_slots <= 0) return;
  lars_norms_kernel<<<static_cast<unsigned>(total_chunks), kBlock, 0, s>>>(slots, chunk_start, n_slots, weight_decay,
                                                                           static_cast<float2*>(workspace), guard);
}

void lars_step(const MultiTensorSlot* slots, const int64_t* chunk_start, int n_slots, int64_t total_chunks, float lr,
               float momentum, float weight_decay, float eta, const void* workspace, cudaStream_t s,
               const float* guard) {
  if (total_chunks <= 0 || n_slots <= 0) return;
  lars_step_kernel<<<static_cast<unsigned>(total_chunks), kBlock, 0, s>>>(
      slots, chunk_start, n_slots, lr, momentum, weight_decay, eta, static_cast<const float2*>(workspace), guard);
}

void adamw_step(const MultiTensorSlot* slots, const int64_t* chunk_start, int n_slots, int64_t total_chunks, float lr,
                float beta1, float beta2, float eps, float weight_decay, int64_t step, cudaStream_t s,
                const float* guard) {
  if (total_chunks <= 0 || n_slots <= 0) return;
  const double t = static_cast<double>(step);
  const float bias1 = static_cast<float>(1.0 - std::pow(static_cast<double>(beta1), t));
  const float bias2 = static_cast<float>(1.0 - std::pow(static_cast<double>(beta2), t));
  adamw_kernel<<<static_cast<unsigned>(total_chunks), kBlock, 0, s>>>(slots, chunk_start, n_slots, lr, beta1, beta2,
                                                                      eps, weight_decay, bias1, bias2, guard);
}

}  // namespace rsd::kernels
