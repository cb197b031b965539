// The slot table of a fused multi-tensor launch (kernels/optim.cuh): one slot per parameter
// (param, grad, up to two state tensors, element count, flags) and the chunk prefix sums that map
// a block to its slot. Built once, when an optimizer is constructed, and kept on the GPU: the
// addresses it holds are stable (parameters, gradients and optimizer state are allocated once
// from the pool), so a step launches its kernel(s) with scalar arguments only, with no allocation
// and no host-to-device copy.
//
// This header includes no CUDA header, so backend-neutral code (the optimizers) can hold a table;
// build_multi_tensor_table is defined only in CUDA builds: call it through RSD_CUDA_CALL.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace rsd::cuda {

// One tensor of a multi-tensor launch: param, grad and states f32 of one shape on one GPU;
// state0 / state1 undefined when the optimizer keeps no such state. The caller keeps every
// tensor alive as long as the table.
struct MultiTensorEntry {
  Tensor param;
  Tensor grad;
  Tensor state0;  // SGD / LARS: momentum buffer; AdamW: first moment
  Tensor state1;  // AdamW: second moment
  bool excluded = false;  // no weight decay, no LARS adaptation
};

struct MultiTensorTable {
  Tensor slots;        // u8 [n_slots * sizeof(kernels::MultiTensorSlot)] on the GPU
  Tensor chunk_start;  // u8 [(n_slots + 1) * 8] on the GPU: int64 prefix sums of chunks per slot
  int n_slots = 0;
  int64_t total_chunks = 0;
};

// Checks the entries (`what` names the caller in errors), builds the table on the host and
// uploads it once; returns when the upload has completed.
MultiTensorTable build_multi_tensor_table(const std::vector<MultiTensorEntry>& entries, const char* what);

}  // namespace rsd::cuda
