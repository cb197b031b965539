// Multi-tensor kernels of the training loop: one block per chunk, as the optimizer kernels.
#include "multi_tensor_ops.cuh"

#include "common.cuh"
#include "multi_tensor.cuh"

namespace rsd::kernels {
namespace {

__global__ void ema_kernel(const MultiTensorSlot* slots, const int64_t* chunk_start, int n_slots, float tau,
                           const float* guard) {
  if (guard_skips(guard)) return;
  const ChunkView v = locate_chunk(slots, chunk_start, n_slots, blockIdx.x);
  const MultiTensorSlot& s = v.slot;
  const float keep = tau, take = 1.0f - tau;
  for (int64_t i = v.begin + threadIdx.x; i < v.end; i += blockDim.x) s.param[i] = keep * s.param[i] + take * s.grad[i];
}

// partials: (total_chunks) sums of squares, one per chunk.
__global__ void squared_norm_partials_kernel(const MultiTensorSlot* slots, const int64_t* chunk_start, int n_slots,
                                             double* partials) {
  const ChunkView v = locate_chunk(slots, chunk_start, n_slots, blockIdx.x);
  float acc = 0.0f;
  for (int64_t i = v.begin + threadIdx.x; i < v.end; i += blockDim.x) {
    const float p = v.slot.param[i];
    acc += p * p;
  }
  acc = block_sum<kBlock>(acc);
  if (threadIdx.x == 0) partials[blockIdx.x] = static_cast<double>(acc);
}

// One block: thread t adds partials t, t + kBlock, ... in double, then a fixed-shape tree.
__global__ void squared_norm_finish_kernel(const double* partials, int64_t total_chunks, double* out) {
  __shared__ double sums[kBlock];
  double acc = 0.0;
  for (int64_t k = threadIdx.x; k < total_chunks; k += kBlock) acc += partials[k];
  sums[threadIdx.x] = acc;
  __syncthreads();
  for (int stride = kBlock / 2; stride > 0; stride /= 2) {
    if (static_cast<int>(threadIdx.x) < stride) sums[threadIdx.x] += sums[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[0] = sums[0];
}

__global__ void scale_kernel(const MultiTensorSlot* slots, const int64_t* chunk_start, int n_slots, float factor) {
  const ChunkView v = locate_chunk(slots, chunk_start, n_slots, blockIdx.x);
  for (int64_t i = v.begin + threadIdx.x; i < v.end; i += blockDim.x) v.slot.param[i] *= factor;
}

__global__ void step_guard_kernel(const float* loss, const double* squared_norm, double clip, float* guard,
                                  double* norm_out) {
  const double norm = sqrt(squared_norm[0]);
  const bool finite = isfinite(loss[0]) && isfinite(norm);
  guard[kGuardSkip] = finite ? 0.0f : 1.0f;
  guard[kGuardScale] = (finite && clip > 0.0 && norm > clip) ? static_cast<float>(clip / (norm + 1e-6)) : 1.0f;
  norm_out[0] = norm;
}

}  // namespace

void ema_update(const MultiTensorSlot* slots, const int64_t* chunk_start, int n_slots, int64_t total_chunks,
                float tau, cudaStream_t s, const float* guard) {
  if (total_chunks <= 0 || n_slots <= 0) return;
  ema_kernel<<<static_cast<unsigned>(total_chunks), kBlock, 0, s>>>(slots, chunk_start, n_slots, tau, guard);
}

void step_guard(const float* loss, const double* squared_norm, double clip, float* guard, double* norm_out,
                cudaStream_t s) {
  step_guard_kernel<<<1, 1, 0, s>>>(loss, squared_norm, clip, guard, norm_out);
}

size_t squared_norm_workspace_bytes(int64_t total_chunks) {
  return total_chunks > 0 ? static_cast<size_t>(total_chunks) * sizeof(double) : 0;
}

void squared_norm(const MultiTensorSlot* slots, const int64_t* chunk_start, int n_slots, int64_t total_chunks,
                  void* workspace, double* out, cudaStream_t s) {
  if (total_chunks <= 0 || n_slots <= 0) {
    cudaMemsetAsync(out, 0, sizeof(double), s);
    return;
  }
  double* partials = static_cast<double*>(workspace);
  squared_norm_partials_kernel<<<static_cast<unsigned>(total_chunks), kBlock, 0, s>>>(slots, chunk_start, n_slots,
                                                                                      partials);
  squared_norm_finish_kernel<<<1, kBlock, 0, s>>>(partials, total_chunks, out);
}

void scale(const MultiTensorSlot* slots, const int64_t* chunk_start, int n_slots, int64_t total_chunks, float factor,
           cudaStream_t s) {
  if (total_chunks <= 0 || n_slots <= 0) return;
  scale_kernel<<<static_cast<unsigned>(total_chunks), kBlock, 0, s>>>(slots, chunk_start, n_slots, factor);
}

}  // namespace rsd::kernels
