// Multi-tensor kernels of the training loop (not optimizer steps): the EMA of BYOL's target
// network, the global squared norm of the gradients (clipping, the NaN/Inf guard, logging) and
// scaling them. Slots and chunks as in optim.cuh; host header, no engine types.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "optim.cuh"

namespace rsd::kernels {

// Per slot: param = tau * param + (1 - tau) * grad, where `param` is the target tensor and `grad`
// points at the online tensor it follows (read only).
// With a guard (optim.cuh) that says skip, nothing is written: a skipped step moves no weights.
void ema_update(const MultiTensorSlot* slots, const int64_t* chunk_start, int n_slots, int64_t total_chunks,
                float tau, cudaStream_t s, const float* guard = nullptr);

// Bytes of workspace squared_norm needs: one double per chunk.
size_t squared_norm_workspace_bytes(int64_t total_chunks);

// *out = sum over every slot of sum_i param[i]^2, as a double on the device. Each chunk's sum
// (float within a block, 65536 elements) goes to the workspace, then one block adds the partials
// in a fixed order in double: the result is the same on every run. Inf or NaN anywhere makes it
// non-finite, which is what the training loop's guard looks for.
void squared_norm(const MultiTensorSlot* slots, const int64_t* chunk_start, int n_slots, int64_t total_chunks,
                  void* workspace, double* out, cudaStream_t s);

// Per slot: param *= factor.
void scale(const MultiTensorSlot* slots, const int64_t* chunk_start, int n_slots, int64_t total_chunks, float factor,
           cudaStream_t s);

// One thread: the step guard (optim.cuh) from the step's loss (one float) and the gradients'
// squared norm (one double, from squared_norm): skip = !(loss and norm finite); scale =
// clip / (norm + 1e-6) when clip > 0 and norm > clip, else 1 (the factor in double, as the host
// computed it before). Also writes the norm itself to *norm_out (for the late read-back).
void step_guard(const float* loss, const double* squared_norm, double clip, float* guard, double* norm_out,
                cudaStream_t s);

}  // namespace rsd::kernels
