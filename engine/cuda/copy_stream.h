// CUDA side of engine/copy_stream.h: a non-blocking stream for uploads and two events per slot.
#pragma once
#include <cuda_runtime.h>

#include <mutex>
#include <vector>

#include "engine/copy_stream.h"

namespace rsd::cuda {

class CopyStreamImpl {
 public:
  CopyStreamImpl(int device, int slots);
  ~CopyStreamImpl();
  CopyStreamImpl(const CopyStreamImpl&) = delete;
  CopyStreamImpl& operator=(const CopyStreamImpl&) = delete;

  void upload(int slot, const std::vector<CopyRange>& ranges);
  void wait_on_compute(int slot);
  void wait_on_host(int slot);
  void release(int slot);

 private:
  void check_slot(int slot) const;
  int device_;
  cudaStream_t stream_ = nullptr;
  std::vector<cudaEvent_t> uploaded_;  // recorded on the copy stream after a slot's copies
  std::vector<cudaEvent_t> released_;  // recorded on the compute stream when a slot is given back
  std::mutex mutex_;                   // keeps one slot's wait + copies + record together
};

}  // namespace rsd::cuda
