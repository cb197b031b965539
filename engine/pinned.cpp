#include "engine/pinned.h"

#include <atomic>
#include <cstdlib>
#include <utility>

#include "engine/backend.h"
#include "engine/error.h"

#if RSD_HAVE_CUDA
#include "engine/cuda/pinned.h"
#endif

namespace rsd {

namespace {
constexpr size_t kAlignment = 256;

std::atomic<int64_t> g_allocs{0}, g_frees{0}, g_bytes{0}, g_locked_bytes{0};
}  // namespace

PinnedStats pinned_stats() {
  PinnedStats s;
  s.allocs = g_allocs.load();
  s.frees = g_frees.load();
  s.bytes_in_use = g_bytes.load();
  s.page_locked_bytes = g_locked_bytes.load();
  return s;
}

PinnedBuffer::PinnedBuffer(size_t bytes, bool page_locked) : bytes_(bytes), page_locked_(page_locked) {
  const size_t rounded = (bytes == 0 ? 1 : bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (page_locked) {
    RSD_CUDA_CALL(data_ = cuda::allocate_pinned(rounded));
    g_locked_bytes += static_cast<int64_t>(bytes);
  } else {
    data_ = std::aligned_alloc(kAlignment, rounded);
    RSD_CHECK(data_ != nullptr, "host buffer of ", bytes, " bytes: allocation failed (out of memory)");
  }
  g_allocs++;
  g_bytes += static_cast<int64_t>(bytes);
}

PinnedBuffer::~PinnedBuffer() { reset(); }

PinnedBuffer::PinnedBuffer(PinnedBuffer&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), bytes_(std::exchange(o.bytes_, 0)),
      page_locked_(std::exchange(o.page_locked_, false)) {}

PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& o) noexcept {
  if (this != &o) {
    reset();
    data_ = std::exchange(o.data_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
    page_locked_ = std::exchange(o.page_locked_, false);
  }
  return *this;
}

void PinnedBuffer::reset() {
  if (data_ == nullptr) return;
  if (page_locked_) {
#if RSD_HAVE_CUDA
    cuda::free_pinned(data_);  // never throws: a destructor path
#endif
    g_locked_bytes -= static_cast<int64_t>(bytes_);
  } else {
    std::free(data_);
  }
  g_frees++;
  g_bytes -= static_cast<int64_t>(bytes_);
  data_ = nullptr;
  bytes_ = 0;
}

}  // namespace rsd
