#include "engine/allocator.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <iterator>
#include <memory>

#include "engine/error.h"
#include "engine/shutdown.h"

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
  s.bytes_handed_out += static_cast<int64_t>(bytes);
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

void RawMemory::release_noexcept(void* p) noexcept {
  if (p == nullptr) return;
  if (device_.is_cpu()) {
    std::free(p);
    return;
  }
#if RSD_HAVE_CUDA
  // No context(): after shutdown it refuses. cudaFree needs no current device (unified addressing).
  cuda::warn_on_release_error(cudaFree(p), "cudaFree");
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
  shut_down();
}

void CachingPool::shut_down() noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  shut_down_ = true;
  for (auto& [size, blocks] : free_blocks_) {
    for (void* p : blocks) {
      raw_.release_noexcept(p);
      stats_.raw_frees++;
      stats_.bytes_reserved -= static_cast<int64_t>(size);
    }
  }
  free_blocks_.clear();
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
  stats_.bytes_in_use -= static_cast<int64_t>(size);
  if (shut_down_) {
    raw_.release_noexcept(p);
    stats_.raw_frees++;
    stats_.bytes_reserved -= static_cast<int64_t>(size);
    return;
  }
  free_blocks_[size].push_back(p);
}

AllocatorStats CachingPool::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void CachingPool::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_bytes_in_use = stats_.bytes_in_use;
  stats_.bytes_handed_out = 0;
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

Arena::~Arena() { release_chunks(); }

void Arena::release_chunks() noexcept {
  for (const Chunk& c : chunks_) {
    raw_.release_noexcept(c.base);
    stats_.raw_frees++;
    stats_.bytes_reserved -= static_cast<int64_t>(c.size);
  }
  chunks_.clear();
}

void Arena::shut_down() noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  release_chunks();
  stats_.bytes_in_use = 0;
  ++generation_;
}

void Arena::add_chunk(size_t bytes) {
  Chunk c{static_cast<char*>(raw_.allocate(bytes)), bytes, {{0, bytes}}, 0};
  chunks_.push_back(std::move(c));
  stats_.raw_allocs++;
  stats_.bytes_reserved += static_cast<int64_t>(bytes);
}

void* Arena::allocate(size_t bytes) {
  const size_t size = align_up(bytes == 0 ? 1 : bytes, kAlignment);
  std::lock_guard<std::mutex> lock(mutex_);
  // Best fit over every free range; ties go to the first chunk and the lowest offset, so the same
  // sequence of allocations and releases always gives the same addresses.
  Chunk* best_chunk = nullptr;
  std::map<size_t, size_t>::iterator best;
  for (Chunk& c : chunks_) {
    for (auto it = c.free.begin(); it != c.free.end(); ++it) {
      if (it->second >= size && (best_chunk == nullptr || it->second < best->second)) {
        best_chunk = &c;
        best = it;
        if (it->second == size) break;
      }
    }
    if (best_chunk != nullptr && best->second == size) break;
  }
  if (best_chunk == nullptr) {
    add_chunk(std::max(size, kMinChunk));
    best_chunk = &chunks_.back();
    best = best_chunk->free.begin();
  }
  const size_t offset = best->first, free_bytes = best->second;
  best_chunk->free.erase(best);
  if (free_bytes > size) best_chunk->free.emplace(offset + size, free_bytes - size);
  best_chunk->extent = std::max(best_chunk->extent, offset + size);
  note_alloc(stats_, size);
  return best_chunk->base + offset;
}

void Arena::release_locked(void* p, size_t bytes) {
  if (p == nullptr) return;
  const size_t size = align_up(bytes == 0 ? 1 : bytes, kAlignment);
  char* const q = static_cast<char*>(p);
  for (Chunk& c : chunks_) {
    if (q < c.base || q >= c.base + c.size) continue;
    size_t offset = static_cast<size_t>(q - c.base), length = size;
    // Coalesce with the free neighbours on both sides.
    auto next = c.free.lower_bound(offset);
    if (next != c.free.end() && next->first == offset + length) {
      length += next->second;
      next = c.free.erase(next);
    }
    if (next != c.free.begin()) {
      auto prev = std::prev(next);
      if (prev->first + prev->second == offset) {
        offset = prev->first;
        length += prev->second;
        c.free.erase(prev);
      }
    }
    c.free.emplace(offset, length);
    stats_.bytes_in_use -= static_cast<int64_t>(size);
    return;
  }
}

void Arena::release(void* p, size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  release_locked(p, bytes);
}

void Arena::release(void* p, size_t bytes, uint64_t generation) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (generation == generation_) release_locked(p, bytes);
}

void Arena::reset() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (chunks_.size() > 1) {
    // Next time the step must fit one chunk: the footprint of this one (with best-fit placement
    // in one chunk of that size, the same sequence fits, or nearly; if not, this repeats with a
    // larger chunk, so the size only grows and settles).
    size_t footprint = 0;
    for (const Chunk& c : chunks_) footprint += c.extent;
    footprint = align_up(std::max(footprint, chunks_.front().size), kAlignment);
    for (const Chunk& c : chunks_) {
      raw_.release(c.base);
      stats_.raw_frees++;
      stats_.bytes_reserved -= static_cast<int64_t>(c.size);
    }
    chunks_.clear();
    add_chunk(footprint);
  }
  for (Chunk& c : chunks_) {
    c.free.clear();
    c.free.emplace(0, c.size);
    c.extent = 0;
  }
  stats_.bytes_in_use = 0;
  ++generation_;
}

uint64_t Arena::generation() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return generation_;
}

void Arena::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_bytes_in_use = stats_.bytes_in_use;
  stats_.bytes_handed_out = 0;
}

AllocatorStats Arena::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

// ---- registries and scope ----

namespace {
constexpr int kMaxDevices = 64;

// Made on first use; each registers its shutdown (memory phase: after the devices are synchronized,
// before their contexts go).
template <typename T>
T& per_device(std::array<std::unique_ptr<T>, kMaxDevices + 1>& table, Device d, std::mutex& m, const char* what) {
  RSD_CHECK(d.index >= 0 && d.index < kMaxDevices, "device index out of range: ", d.str());
  const int slot = d.is_cpu() ? kMaxDevices : d.index;
  std::lock_guard<std::mutex> lock(m);
  if (!table[slot]) {
    table[slot] = std::make_unique<T>(d);
    T* created = table[slot].get();
    on_shutdown(ShutdownPhase::memory, str_cat("free the ", what, " of ", d.str()), [created] { created->shut_down(); });
  }
  return *table[slot];
}

// Never destroyed: a static tensor destroyed after them would release into a dead pool, and
// static destruction order across files is unspecified. Their memory goes back at shutdown(), or
// with the process.
std::mutex& g_registry_mutex = *new std::mutex;
template <typename T>
using Registry = std::array<std::unique_ptr<T>, kMaxDevices + 1>;
Registry<CachingPool>& g_pools = *new Registry<CachingPool>;
Registry<Arena>& g_arenas = *new Registry<Arena>;

thread_local Arena* t_cpu_arena = nullptr;
thread_local Arena* t_cuda_arena = nullptr;
}  // namespace

CachingPool& pool_for(Device d) { return per_device(g_pools, d, g_registry_mutex, "memory pool"); }
Arena& arena_for(Device d) { return per_device(g_arenas, d, g_registry_mutex, "step arena"); }

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
