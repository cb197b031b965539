// Host-to-device uploads on a CUDA stream of their own, so that the data loader's copies overlap
// the kernels of the device's compute stream (engine/cuda/context.h) instead of queueing behind
// them. Work is tracked per slot of a ring of buffers: each slot has a host buffer (page-locked,
// engine/pinned.h) and device memory, and two events order it:
//   - release(s), called when the consumer is done with slot s's device memory, marks the point on
//     the compute stream after which that memory may be overwritten; the next upload(s) waits
//     for it on the copy stream (so an upload never clobbers a batch still being computed on);
//   - upload(s) records "uploaded" on the copy stream; wait_on_compute(s) makes the compute
//     stream wait for it before the batch is used, wait_on_host(s) blocks a CPU thread until the
//     host buffer may be refilled.
// Only meaningful on a GPU: constructing one in a build without CUDA is an rsd::Error.
#pragma once
#include <cstddef>
#include <memory>
#include <vector>

#include "engine/device.h"

namespace rsd {

namespace cuda {
class CopyStreamImpl;
}

struct CopyRange {
  void* dst = nullptr;        // device memory
  const void* src = nullptr;  // host memory, page-locked for a truly asynchronous copy
  size_t bytes = 0;
};

class CopyStream {
 public:
  CopyStream(Device device, int slots);
  // Waits for the queued uploads, then frees the stream and events.
  ~CopyStream();
  CopyStream(const CopyStream&) = delete;
  CopyStream& operator=(const CopyStream&) = delete;

  Device device() const { return device_; }
  // Queues the copies of `slot` on the copy stream, after its last release(). Thread-safe.
  void upload(int slot, const std::vector<CopyRange>& ranges);
  // The compute stream waits (on the GPU, not the host) for slot's last upload.
  void wait_on_compute(int slot);
  // The calling thread waits until slot's last upload has read its host buffer.
  void wait_on_host(int slot);
  // The compute stream's work queued so far is the last that uses slot's device memory.
  void release(int slot);

 private:
  Device device_;
  std::unique_ptr<cuda::CopyStreamImpl> impl_;
};

}  // namespace rsd
