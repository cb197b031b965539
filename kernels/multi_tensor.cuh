// Device helpers shared by the multi-tensor kernels (optim.cu, multi_tensor_ops.cu): a block
// finds the slot and the element range of its chunk. Include from .cu files only.
#pragma once

#include "common.cuh"
#include "optim.cuh"

namespace rsd::kernels {

// The elements [begin, end) of one slot that this block updates.
struct ChunkView {
  MultiTensorSlot slot;
  int index;      // slot index
  int64_t begin;  // first element
  int64_t end;    // one past the last element
};

// Finds the slot whose chunk range [chunk_start[i], chunk_start[i + 1]) holds `chunk`. Invariant:
// chunk_start[lo] <= chunk < chunk_start[hi]; empty slots (equal neighbours) are never chosen.
__device__ inline ChunkView locate_chunk(const MultiTensorSlot* slots, const int64_t* chunk_start, int n_slots,
                                  int64_t chunk) {
  int lo = 0, hi = n_slots;
  while (hi - lo > 1) {
    const int mid = lo + (hi - lo) / 2;
    if (chunk_start[mid] <= chunk) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  ChunkView v;
  v.slot = slots[lo];
  v.index = lo;
  v.begin = (chunk - chunk_start[lo]) * kMultiTensorChunk;
  v.end = min64(v.slot.n, v.begin + kMultiTensorChunk);
  return v;
}

__device__ __forceinline__ bool excluded(const MultiTensorSlot& s) { return (s.flags & kSlotExcluded) != 0; }

// The step guard (optim.cuh): uniform over a launch, so a skipping block returns before any
// barrier.
__device__ __forceinline__ bool guard_skips(const float* guard) {
  return guard != nullptr && guard[kGuardSkip] != 0.0f;
}
__device__ __forceinline__ float guard_scale(const float* guard) {
  return guard != nullptr ? guard[kGuardScale] : 1.0f;
}

}  // namespace rsd::kernels
