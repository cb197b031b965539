#include "engine/allocator.h"

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "engine/error.h"

#if RSD_HAVE_CUDA
#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#endif

namespace rsd {

namespace {
constexpr size_t kHostAlignment = 256;  // as cudaMalloc: arena offsets stay aligned on both

size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

void note_alloc(AllocatorStats& s, size_t bytes) {
  s.bytes_in_use += static_cast<int64_t>(bytes);
  s.peak_bytes_in_use = std::max(s.peak_bytes_in_use, s.bytes_in_use);
}
}  // namespace

void* RawMemory::allocate(size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (device_.is_cpu()) {
    void* p = std::aligned_alloc(kHostAlignment, align_up(bytes, kHostAlignment));
    RSD_CHECK(p != nullptr, "host allocation of ", bytes, " bytes failed (out of memory)");
    return p;
  }
#if RSD_HAVE_CUDA
  cuda::context(device_.index);
  void* p = nullptr;
  RSD_CUDA_CHECK(cudaMalloc(&p, bytes), "allocate ", bytes, " bytes on ", device_.str());
  return p;
#else
  fail("cannot allocate on ", device_.str(), ": ", cuda_unavailable_reason());
#endif
}

void RawMemory::release(void* p) {
  if (p == nullptr) return;
  if (device_.is_cpu()) {
    std::free(p);
    return;
  }
#if RSD_HAVE_CUDA
  cuda::context(device_.index);
  RSD_CUDA_CHECK(cudaFree(p), "free on ", device_.str());
#endif
}

// ---- CachingPool ----

size_t CachingPool::round_size(size_t bytes) {
  constexpr size_t kSmall = 512, kLarge = size_t{2} << 20, kSmallLimit = size_t{1} << 20;
  if (bytes == 0) bytes = 1;
  return bytes < kSmallLimit ? align_up(bytes, kSmall) : align_up(bytes, kLarge);
}

CachingPool::~CachingPool() {
  // Blocks still in use at exit belong to static tensors; the process is ending, leave them.
  empty_cache();
}

void* CachingPool::allocate(size_t bytes) {
  const size_t size = round_size(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = free_blocks_.find(size);
  void* p;
  if (it != free_blocks_.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
  } else {
    p = raw_.allocate(size);
    stats_.raw_allocs++;
    stats_.bytes_reserved += static_cast<int64_t>(size);
  }
  note_alloc(stats_, size);
  return p;
}

void CachingPool::release(void* p, size_t bytes) {
  if (p == nullptr) return;
  const size_t size = round_size(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  free_blocks_[size].push_back(p);
  stats_.bytes_in_use -= static_cast<int64_t>(size);
}

AllocatorStats CachingPool::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void CachingPool::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_bytes_in_use = stats_.bytes_in_use;
}

void CachingPool::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [size, blocks] : free_blocks_) {
    for (void* p : blocks) {
      raw_.release(p);
      stats_.raw_frees++;
      stats_.bytes_reserved -= static_cast<int64_t>(size);
    }
  }
  free_blocks_.clear();
}

// ---- Arena ----

Arena::~Arena() {
  for (const Chunk& c : chunks_) raw_.release(c.base);
}

void* Arena::allocate(size_t bytes) {
  const size_t size = align_up(bytes == 0 ? 1 : bytes, kAlignment);
  while (chunk_index_ < chunks_.size() && offset_ + size > chunks_[chunk_index_].size) {
    ++chunk_index_;  // the rest of this chunk is wasted for the step; reset() consolidates
    offset_ = 0;
  }
  if (chunk_index_ == chunks_.size()) {
    const size_t chunk_size = std::max(size, size_t{64} << 20);
    chunks_.push_back(Chunk{static_cast<char*>(raw_.allocate(chunk_size)), chunk_size});
    stats_.raw_allocs++;
    stats_.bytes_reserved += static_cast<int64_t>(chunk_size);
    offset_ = 0;
  }
  char* p = chunks_[chunk_index_].base + offset_;
  offset_ += size;
  step_bytes_ += size;
  note_alloc(stats_, size);
  return p;
}

void Arena::reset() {
  const bool used_several = chunk_index_ > 0;
  if (used_several) {
    // Every byte of the step must fit one chunk next time; the old chunks may hold gaps.
    const size_t high_water = std::max(step_bytes_, chunks_.front().size);
    for (const Chunk& c : chunks_) {
      raw_.release(c.base);
      stats_.raw_frees++;
      stats_.bytes_reserved -= static_cast<int64_t>(c.size);
    }
    chunks_.clear();
    chunks_.push_back(Chunk{static_cast<char*>(raw_.allocate(high_water)), high_water});
    stats_.raw_allocs++;
    stats_.bytes_reserved += static_cast<int64_t>(high_water);
  }
  chunk_index_ = 0;
  offset_ = 0;
  step_bytes_ = 0;
  stats_.bytes_in_use = 0;
  ++generation_;
}

AllocatorStats Arena::stats() const { return stats_; }

// ---- registries and scope ----

namespace {
constexpr int kMaxDevices = 64;

template <typename T>
T& per_device(std::unique_ptr<T> (&table)[kMaxDevices + 1], Device d, std::mutex& m) {
  RSD_CHECK(d.index >= 0 && d.index < kMaxDevices, "device index out of range: ", d.str());
  const int slot = d.is_cpu() ? kMaxDevices : d.index;
  std::lock_guard<std::mutex> lock(m);
  if (!table[slot]) table[slot] = std::make_unique<T>(d);
  return *table[slot];
}

std::mutex g_registry_mutex;
std::unique_ptr<CachingPool> g_pools[kMaxDevices + 1];
std::unique_ptr<Arena> g_arenas[kMaxDevices + 1];

thread_local Arena* t_cpu_arena = nullptr;
thread_local Arena* t_cuda_arena = nullptr;
}  // namespace

CachingPool& pool_for(Device d) { return per_device(g_pools, d, g_registry_mutex); }
Arena& arena_for(Device d) { return per_device(g_arenas, d, g_registry_mutex); }

ArenaScope::ArenaScope(Arena& arena) : previous_cpu_(t_cpu_arena), previous_cuda_(t_cuda_arena) {
  if (arena.device().is_cpu()) {
    t_cpu_arena = &arena;
  } else {
    t_cuda_arena = &arena;
  }
}

ArenaScope::~ArenaScope() {
  t_cpu_arena = previous_cpu_;
  t_cuda_arena = previous_cuda_;
}

ArenaSuspend::ArenaSuspend() : previous_cpu_(t_cpu_arena), previous_cuda_(t_cuda_arena) {
  t_cpu_arena = nullptr;
  t_cuda_arena = nullptr;
}

ArenaSuspend::~ArenaSuspend() {
  t_cpu_arena = previous_cpu_;
  t_cuda_arena = previous_cuda_;
}

Arena* scoped_arena(Device d) {
  Arena* a = d.is_cpu() ? t_cpu_arena : t_cuda_arena;
  return (a != nullptr && a->device() == d) ? a : nullptr;
}

Allocator& current_allocator(Device d) {
  if (Arena* a = scoped_arena(d)) return *a;
  return pool_for(d);
}

}  // namespace rsd
