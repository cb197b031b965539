#include "engine/cuda/multi_tensor.h"

#include <cstring>
#include <limits>

#include "engine/allocator.h"
#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "kernels/optim.cuh"

namespace rsd::cuda {

namespace {

void check_entry(const MultiTensorEntry& e, Device device, const char* what) {
  auto check_tensor = [&](const Tensor& t, const char* role) {
    if (!t.defined()) return;
    RSD_CHECK(t.dtype() == DType::f32 && t.device() == device && t.numel() == e.param.numel(), what,
              ": multi-tensor ", role, " ", t.describe(), " does not match parameter ", e.param.describe());
  };
  RSD_CHECK(e.param.defined() && e.grad.defined(), what, ": multi-tensor entry without parameter or gradient");
  check_tensor(e.param, "parameter");
  check_tensor(e.grad, "gradient");
  check_tensor(e.state0, "state0");
  check_tensor(e.state1, "state1");
}

float* float_ptr(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

// Copies `bytes` host bytes to a new u8 tensor on `device` (from the pool, never an arena).
Tensor upload(const void* host, size_t bytes, Device device) {
  ArenaSuspend persistent;
  Tensor staged = Tensor::empty({static_cast<int64_t>(bytes)}, DType::u8, Device::cpu());
  if (bytes > 0) std::memcpy(staged.raw(), host, bytes);
  Tensor out = Tensor::empty({static_cast<int64_t>(bytes)}, DType::u8, device);
  out.copy_from(staged);
  return out;
}

}  // namespace

MultiTensorTable build_multi_tensor_table(const std::vector<MultiTensorEntry>& entries, const char* what) {
  RSD_CHECK(!entries.empty(), what, ": multi-tensor table with no tensors");
  RSD_CHECK(entries.size() < static_cast<size_t>(std::numeric_limits<int>::max()), what, ": too many tensors");
  const Device device = entries.front().param.device();
  RSD_CHECK(device.is_cuda(), what, ": multi-tensor table for ", entries.front().param.describe(),
            " (not on a GPU)");
  std::vector<kernels::MultiTensorSlot> slots;
  std::vector<int64_t> chunk_start{0};
  for (const MultiTensorEntry& e : entries) {
    check_entry(e, device, what);
    const int64_t n = e.param.numel();
    slots.push_back(kernels::MultiTensorSlot{float_ptr(e.param), float_ptr(e.grad), float_ptr(e.state0),
                                             float_ptr(e.state1), n, e.excluded ? kernels::kSlotExcluded : 0});
    chunk_start.push_back(chunk_start.back() + (n + kernels::kMultiTensorChunk - 1) / kernels::kMultiTensorChunk);
  }
  // One block per chunk: the grid's x dimension bounds the total.
  RSD_CHECK(chunk_start.back() <= std::numeric_limits<int32_t>::max(), what, ": ", chunk_start.back(),
            " chunks exceed one launch's grid");
  MultiTensorTable table;
  table.n_slots = static_cast<int>(slots.size());
  table.total_chunks = chunk_start.back();
  table.slots = upload(slots.data(), slots.size() * sizeof(kernels::MultiTensorSlot), device);
  table.chunk_start = upload(chunk_start.data(), chunk_start.size() * sizeof(int64_t), device);
  // The staging buffers go back to the host pool on return: wait until the copies have read them.
  RSD_CUDA_CHECK(cudaStreamSynchronize(context(device.index).stream), what, ": multi-tensor table upload");
  return table;
}

}  // namespace rsd::cuda
