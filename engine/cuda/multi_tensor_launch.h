// What a multi-tensor launch passes to its kernel: the table's slots and chunk prefix sums as
// device pointers, and the compute stream of the table's GPU. CUDA builds only.
#pragma once
#include <cuda_runtime.h>

#include "engine/cuda/context.h"
#include "engine/cuda/multi_tensor.h"
#include "kernels/optim.cuh"

namespace rsd::cuda {

inline const kernels::MultiTensorSlot* slots_of(const MultiTensorTable& t) {
  return static_cast<const kernels::MultiTensorSlot*>(t.slots.raw());
}

inline const int64_t* chunks_of(const MultiTensorTable& t) { return static_cast<const int64_t*>(t.chunk_start.raw()); }

inline cudaStream_t stream_of(const MultiTensorTable& t) { return context(t.slots.device().index).stream; }

}  // namespace rsd::cuda
