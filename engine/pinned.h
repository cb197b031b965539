// Host buffers that a GPU copies from asynchronously. With `page_locked` the memory is pinned
// (cudaHostAlloc): cudaMemcpyAsync from it is a true DMA that overlaps with kernels, where pageable
// memory is staged synchronously by the driver. Without CUDA, or for buffers that never reach a
// GPU, it is plain 256-byte aligned host memory, so code above the engine (the data loader) uses
// one type on every build. Every allocation is counted: the tests prove a steady state makes none.
#pragma once
#include <cstddef>
#include <cstdint>

namespace rsd {

struct PinnedStats {
  int64_t allocs = 0;        // buffers allocated since the process started
  int64_t frees = 0;
  int64_t bytes_in_use = 0;  // held by live buffers
  int64_t page_locked_bytes = 0;
};

// The process-wide counters of PinnedBuffer.
PinnedStats pinned_stats();

class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  // page_locked = true needs a CUDA build and a GPU (an rsd::Error otherwise).
  PinnedBuffer(size_t bytes, bool page_locked);
  ~PinnedBuffer();
  PinnedBuffer(PinnedBuffer&& o) noexcept;
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  void* data() const { return data_; }
  size_t size() const { return bytes_; }
  bool page_locked() const { return page_locked_; }

 private:
  void reset();
  void* data_ = nullptr;
  size_t bytes_ = 0;
  bool page_locked_ = false;
};

}  // namespace rsd
