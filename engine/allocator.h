// Device memory for tensors, in two tiers (tiny-cuda-nn's and PyTorch's pattern):
//   - CachingPool: parameters, optimizer state, anything that outlives a step. Freed blocks are
//     kept in size buckets and handed out again, so a steady state makes no raw allocation.
//   - Arena: a micro-batch's activations and temporaries. Blocks are placed best-fit in one chunk
//     and given back when their tensor dies (a saved activation as soon as the backward has used
//     it, a temporary at once), so the arena's peak is the step's live peak, not the sum of all it
//     ever allocated; reset() after every micro-batch reclaims everything at once. After the first
//     step has shown the footprint, the arena holds a single chunk of that size, so later steps
//     make no raw allocation and, doing the same allocations in the same order, see the same
//     addresses (CUDA-graph friendly).
// Both sit on RawMemory (aligned host memory, or cudaMalloc) and count every raw call, which is
// how the tests prove that a steady-state step allocates nothing.
// Reuse is safe on CUDA because all ops of a device run on its one compute stream, in order.
// Both register their teardown with rsd::shutdown() (engine/shutdown.h); after it, memory
// released by surviving tensors goes straight back to the raw allocator, and nothing on that path
// throws (a destructor that throws at exit is std::terminate).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "engine/device.h"

namespace rsd {

struct AllocatorStats {
  int64_t raw_allocs = 0;       // calls to the raw allocator (malloc / cudaMalloc)
  int64_t raw_frees = 0;
  int64_t bytes_in_use = 0;     // handed out and not yet returned
  int64_t peak_bytes_in_use = 0;
  int64_t bytes_reserved = 0;   // held from the raw allocator, in use or cached
  int64_t bytes_handed_out = 0; // every allocation since the last reset_peak: what an allocator
                                // that never reused memory within a step would have needed
};

class RawMemory {
 public:
  explicit RawMemory(Device d) : device_(d) {}
  void* allocate(size_t bytes);
  void release(void* p);
  // For destructors and shutdown: never throws; a runtime already unloading is accepted, any other
  // failure is printed as a warning.
  void release_noexcept(void* p) noexcept;
  Device device() const { return device_; }

 private:
  Device device_;
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t bytes) = 0;
  virtual void release(void* p, size_t bytes) = 0;
  virtual AllocatorStats stats() const = 0;
  virtual Device device() const = 0;
};

class CachingPool final : public Allocator {
 public:
  explicit CachingPool(Device d) : raw_(d) {}
  ~CachingPool() override;
  void* allocate(size_t bytes) override;
  void release(void* p, size_t bytes) override;
  AllocatorStats stats() const override;
  Device device() const override { return raw_.device(); }
  // Returns every cached (free) block to the raw allocator.
  void empty_cache();
  // Restarts the peak statistic at the bytes in use now (peak-memory measurements).
  void reset_peak();
  // Bucket size for a request: multiples of 512 B below 1 MiB, of 2 MiB above.
  static size_t round_size(size_t bytes);
  // Shutdown: returns the cached blocks; from now on a released block goes straight back.
  void shut_down() noexcept;

 private:
  RawMemory raw_;
  bool shut_down_ = false;  // under mutex_
  mutable std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_blocks_;
  AllocatorStats stats_;
};

class Arena final : public Allocator {
 public:
  explicit Arena(Device d) : raw_(d) {}
  ~Arena() override;
  void* allocate(size_t bytes) override;
  // A block of the current generation becomes free for the rest of the step.
  void release(void* p, size_t bytes) override;
  // The same, for a tensor that remembers the generation it was allocated in: blocks of an earlier
  // generation were already reclaimed by reset() and are ignored.
  void release(void* p, size_t bytes, uint64_t generation);
  AllocatorStats stats() const override;
  Device device() const override { return raw_.device(); }
  // Ends a micro-batch: every allocation made since the last reset becomes invalid. If the step
  // needed more than one chunk, they are replaced by one chunk of their combined footprint.
  void reset();
  // Increases at every reset; tensors remember it to detect use after reset.
  uint64_t generation() const;
  // Restarts the peak statistic at the bytes in use now (peak-memory measurements).
  void reset_peak();
  // Shutdown: returns the chunks (every tensor still in them becomes invalid).
  void shut_down() noexcept;
  static constexpr size_t kAlignment = 256;
  static constexpr size_t kMinChunk = size_t{64} << 20;

 private:
  struct Chunk {
    char* base;
    size_t size;
    std::map<size_t, size_t> free;  // offset -> bytes, coalesced
    size_t extent = 0;              // highest end of a block handed out this step
  };
  void add_chunk(size_t bytes);
  void release_locked(void* p, size_t bytes);
  void release_chunks() noexcept;

  RawMemory raw_;
  mutable std::mutex mutex_;
  std::vector<Chunk> chunks_;
  uint64_t generation_ = 1;
  AllocatorStats stats_;
};

// The process-wide pool and step arena of a device.
CachingPool& pool_for(Device d);
Arena& arena_for(Device d);

// While alive, new tensors on the arena's device are allocated from the arena (on this thread).
// Training loops open one around forward + backward and reset the arena after the optimizer step.
class ArenaScope {
 public:
  explicit ArenaScope(Arena& arena);
  ~ArenaScope();
  ArenaScope(const ArenaScope&) = delete;
  ArenaScope& operator=(const ArenaScope&) = delete;

 private:
  Arena* previous_cpu_;
  Arena* previous_cuda_;
};

// While alive, new tensors come from the pools even inside an ArenaScope: for memory that must
// outlive the step, such as a parameter's first gradient.
class ArenaSuspend {
 public:
  ArenaSuspend();
  ~ArenaSuspend();
  ArenaSuspend(const ArenaSuspend&) = delete;
  ArenaSuspend& operator=(const ArenaSuspend&) = delete;

 private:
  Arena* previous_cpu_;
  Arena* previous_cuda_;
};

// The allocator new tensors on `d` come from: the scoped arena if any, the pool otherwise.
Allocator& current_allocator(Device d);
// The arena in scope for `d` on this thread, or nullptr.
Arena* scoped_arena(Device d);

}  // namespace rsd
