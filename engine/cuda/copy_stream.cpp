#include "engine/cuda/copy_stream.h"

#include <cstdio>

#include "engine/cuda/check.h"
#include "engine/cuda/context.h"

namespace rsd::cuda {

CopyStreamImpl::CopyStreamImpl(int device, int slots) : device_(device) {
  context(device);  // selects the device and creates its compute stream first
  RSD_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "copy stream for cuda:", device);
  // Host waits block (yield the core to the loader's workers) instead of spinning.
  for (int s = 0; s < slots; ++s) {
    cudaEvent_t up = nullptr, rel = nullptr;
    RSD_CUDA_CHECK(cudaEventCreateWithFlags(&up, cudaEventDisableTiming | cudaEventBlockingSync),
                   "upload event of slot ", s, " on cuda:", device);
    uploaded_.push_back(up);
    RSD_CUDA_CHECK(cudaEventCreateWithFlags(&rel, cudaEventDisableTiming), "release event of slot ", s, " on cuda:", device);
    released_.push_back(rel);
  }
}

CopyStreamImpl::~CopyStreamImpl() {
  // Device memory the uploads write to goes back to the pool after this: let them finish first.
  try_make_current(device_);
  if (stream_ != nullptr) {
    warn_on_release_error(cudaStreamSynchronize(stream_), "synchronize the copy stream");
  }
  for (cudaEvent_t e : uploaded_) cudaEventDestroy(e);
  for (cudaEvent_t e : released_) cudaEventDestroy(e);
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

void CopyStreamImpl::check_slot(int slot) const {
  RSD_CHECK(slot >= 0 && slot < static_cast<int>(uploaded_.size()), "CopyStream: slot ", slot, " out of range [0, ",
            uploaded_.size(), ")");
}

void CopyStreamImpl::upload(int slot, const std::vector<CopyRange>& ranges) {
  check_slot(slot);
  std::lock_guard<std::mutex> lock(mutex_);
  make_current(device_);
  // A release event never recorded makes this wait a no-op (the slot's first use).
  RSD_CUDA_CHECK(cudaStreamWaitEvent(stream_, released_[slot], 0), "upload of slot ", slot, ": wait for its release");
  for (const CopyRange& r : ranges) {
    if (r.bytes == 0) continue;
    RSD_CUDA_CHECK(cudaMemcpyAsync(r.dst, r.src, r.bytes, cudaMemcpyHostToDevice, stream_), "upload of slot ", slot,
                   ": ", r.bytes, " bytes to cuda:", device_);
  }
  RSD_CUDA_CHECK(cudaEventRecord(uploaded_[slot], stream_), "upload of slot ", slot, ": record");
}

void CopyStreamImpl::wait_on_compute(int slot) {
  check_slot(slot);
  const DeviceContext& ctx = context(device_);
  RSD_CUDA_CHECK(cudaStreamWaitEvent(ctx.stream, uploaded_[slot], 0), "compute stream of cuda:", device_,
                 " waits for the upload of slot ", slot);
}

void CopyStreamImpl::wait_on_host(int slot) {
  check_slot(slot);
  RSD_CUDA_CHECK(cudaEventSynchronize(uploaded_[slot]), "host waits for the upload of slot ", slot, " to cuda:", device_);
}

void CopyStreamImpl::release(int slot) {
  check_slot(slot);
  const DeviceContext& ctx = context(device_);
  RSD_CUDA_CHECK(cudaEventRecord(released_[slot], ctx.stream), "release of slot ", slot, " on cuda:", device_);
}

}  // namespace rsd::cuda
