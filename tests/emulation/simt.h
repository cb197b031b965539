// A CPU emulator of the CUDA execution model, for running the hand-written kernels of kernels/
// on a machine without a GPU: every thread of a block is a fiber (its own stack, cooperative
// switches), blocks run one after another, and the block- and warp-wide operations are barriers
// between those fibers. It checks what a GPU would leave undefined or fail on: a __syncthreads()
// that not every thread reaches (deadlock), a warp collective after a lane has exited, more
// dynamic shared memory than the kernel was allowed, cp.async and ldmatrix outside shared
// memory or misaligned, shared memory read before it was written (poisoned with NaN bytes), and
// reads past the end of a device buffer (device_alloc puts a guard page there).
//
// What it is not: a timing model, a race detector (fibers switch only at barriers, in a fixed
// order, so a missing barrier is caught only when an order exposes it: Options choose the order,
// whether one warp runs ahead of the others, and whether cp.async lands early or late), or a
// check of registers and occupancy. The CUDA sources
// are compiled as host C++ through tests/emulation/translate_cu.py and prelude.h.
#pragma once
#include <vector_types.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace rsd::emu {

// Something the kernel did that a GPU would fail on or leave undefined.
class KernelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The order in which a block's threads first run and are released from barriers.
enum class Order { forward, reverse, shuffled };

// Which threads run after a warp-wide operation completes. lockstep: the warp's lanes queue behind
// every other ready thread, so all warps advance together. warp_ahead: they go first, so one warp
// runs on until it waits at __syncthreads() (what a missing block barrier needs to show).
enum class Schedule { lockstep, warp_ahead };

// When a cp.async copy reaches shared memory: at the cp.async.wait_group that completes its group
// (the latest a GPU allows: a read before the wait sees old bytes) or at issue (the earliest: a
// refill of a buffer other warps still read shows up).
enum class CopyTiming { at_wait, at_issue };

struct Options {
  int multiprocessors = 132;                 // an H100 SXM: what cudaDeviceGetAttribute reports
  size_t max_dynamic_shared = 227 * 1024;    // per block, with the opt-in attribute (sm_90)
  size_t default_dynamic_shared = 48 * 1024; // without it
  Order order = Order::forward;
  uint64_t seed = 1;                         // for Order::shuffled
  Schedule schedule = Schedule::lockstep;
  CopyTiming copies = CopyTiming::at_wait;
};
Options& options();

// ---- device memory: page-aligned end with a guard page after it (reads past the end fault) ----
void* device_alloc(size_t bytes);
void device_free(void* p);

// ---- inside a kernel ----
uint3 thread_idx();
uint3 block_idx();
dim3 block_dim();
dim3 grid_dim();
void sync_threads();
void sync_warp();
// Every lane of the current thread's warp passes `bytes` (<= 64) of `mine`; returns the 32 lanes'
// values, lane l at offset l * bytes, valid until this thread's next warp operation.
const unsigned char* warp_exchange(const void* mine, size_t bytes);
int lane_id();
char* dynamic_shared_base();
bool in_dynamic_shared(const void* p, size_t bytes);

template <typename T>
T* dynamic_shared() {
  return reinterpret_cast<T*>(dynamic_shared_base());
}

// The block's `__shared__` variable named by `key` (one tag per declaration and template
// instantiation): the first thread to reach the declaration places it in the block's static
// shared memory, the others get the same bytes; poisoned at each block's start, at most 48 KiB a
// block (and, with the dynamic kind, the device's limit).
void* static_shared_bytes(const void* key, size_t bytes, size_t align);
template <typename T>
T& static_shared(const void* key) {
  return *reinterpret_cast<T*>(static_shared_bytes(key, sizeof(T), alignof(T)));
}
bool in_shared(const void* p, size_t bytes);

// Shuffles: every lane of the warp must take part (full mask); width splits the warp into
// segments as on the GPU, and a source outside the lane's segment gives the lane its own value.
// shuffle: the value of lane source(lane) of the current warp.
template <typename T, typename Source>
T shuffle(T v, int width, Source source) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 16, "a register value");
  const unsigned char* all = warp_exchange(&v, sizeof(T));
  const int lane = lane_id();
  int src = source(lane);
  if (src < 0 || src / width != lane / width) src = lane;
  T out;
  std::memcpy(&out, all + static_cast<size_t>(src) * sizeof(T), sizeof(T));
  return out;
}

template <typename T>
T shfl_xor(T v, int mask, int width) {
  return shuffle(v, width, [mask](int lane) { return lane ^ mask; });
}
template <typename T>
T shfl_down(T v, unsigned delta, int width) {
  return shuffle(v, width, [delta](int lane) { return lane + static_cast<int>(delta); });
}
template <typename T>
T shfl_up(T v, unsigned delta, int width) {
  return shuffle(v, width, [delta](int lane) { return lane - static_cast<int>(delta); });
}
template <typename T>
T shfl(T v, int src_lane, int width) {
  return shuffle(v, width, [src_lane, width](int lane) { return (lane / width) * width + ((src_lane % width) + width) % width; });
}

// cp.async: the copy is read from global memory when issued and lands in shared memory only when
// a cp.async.wait_group lets its group complete, so a read before the wait sees the old bytes.
void async_copy16(void* dst, const void* src, bool valid);
void async_commit();
void async_wait(int pending);

// ldmatrix .x4 (.trans) and mma.sync m16n8k16 bf16 -> f32, warp-wide (layouts in kernels/ptx.cuh).
void ldmatrix_x4(uint32_t (&r)[4], const void* p, bool trans);
void mma_m16n8k16_bf16(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1);

// ---- host side of a launch ----
void set_max_dynamic_shared(const void* kernel, int bytes);
// Runs body() as every thread of every block of the grid. Throws KernelError on a detected fault.
void run_grid(const char* name, const void* kernel, dim3 grid, dim3 block, size_t shared,
              const std::function<void()>& body);
// Launches so far (kernels, blocks, fiber switches), for the tests' reports.
// ldmatrix_phases: the 8-row phases of every ldmatrix (4 per .x4 instruction);
// ldmatrix_conflicts: those whose 8 rows of 16 bytes do not fall on 8 distinct groups of 4 banks
// (32 banks of 4 bytes: such a phase takes more than one shared-memory cycle on the GPU).
struct Counters {
  int64_t launches = 0, blocks = 0, switches = 0;
  int64_t ldmatrix_phases = 0, ldmatrix_conflicts = 0;
};
Counters counters();

// kernel<<<grid, block, shared, stream>>>(args...) becomes configure(grid, block, shared,
// stream).run("kernel", kernel, args...) (translate_cu.py): each thread gets its own copy of the
// arguments, converted to the kernel's parameter types once, as the launch does.
class Launch {
 public:
  Launch(dim3 grid, dim3 block, size_t shared) : grid_(grid), block_(block), shared_(shared) {}
  template <typename... P, typename... A>
  void run(const char* name, void (*kernel)(P...), A&&... args) const {
    const std::tuple<std::decay_t<P>...> params(static_cast<std::decay_t<P>>(std::forward<A>(args))...);
    run_grid(name, reinterpret_cast<const void*>(kernel), grid_, block_, shared_,
             [&] { std::apply([&](const auto&... p) { kernel(p...); }, params); });
  }

 private:
  dim3 grid_, block_;
  size_t shared_;
};

template <typename Stream = std::nullptr_t>
Launch configure(dim3 grid, dim3 block, size_t shared = 0, Stream = {}) {
  return Launch(grid, block, shared);
}

}  // namespace rsd::emu
