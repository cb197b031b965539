#include "tests/emulation/simt.h"

#include "tests/emulation/fiber_context.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <sstream>
#include <unordered_map>
#include <vector>

namespace rsd::emu {
namespace {

constexpr int kWarp = 32;
constexpr size_t kMaxPayload = 64;
constexpr size_t kStackBytes = 256 * 1024;
constexpr unsigned char kPoison = 0xff;  // a NaN in f32 and bf16
constexpr size_t kStaticShared = 48 * 1024;  // the CUDA limit on a block's static shared memory

enum class Wait { none, block, warp };

struct PendingCopy {
  void* dst;
  unsigned char bytes[16];
};

struct ThreadState {
  FiberContext ctx;
  uint3 idx{};
  int linear = 0, warp = 0, lane = 0;
  bool done = false;
  Wait wait = Wait::none;
  std::vector<PendingCopy> open_group;
  std::deque<std::vector<PendingCopy>> committed;
};

struct WarpState {
  int size = 0;     // lanes that exist
  int exited = 0;   // lanes that have returned
  int arrived = 0;  // lanes waiting in the current collective
  size_t bytes = 0;
  uint64_t generation = 0;
  alignas(16) unsigned char buf[2][kWarp * kMaxPayload];
};

// A fiber stack with an inaccessible page below it (a kernel that overflows it faults).
struct Stack {
  void* map = nullptr;
  size_t map_bytes = 0;
  void* base = nullptr;
};

struct Machine {
  Options options;
  Counters counters;
  std::unordered_map<const void*, int> max_shared;
  std::map<const void*, std::pair<void*, size_t>> allocations;
  std::vector<Stack> stacks;

  // The launch in progress.
  const char* kernel = nullptr;
  dim3 grid, block;
  uint3 block_idx{};
  size_t shared_bytes = 0;
  unsigned char* shared = nullptr;
  size_t shared_capacity = 0;
  // Static shared memory of the block: placed variables (key, offset) and the bytes used, of
  // kStaticShared; the bytes the last block used are poisoned again at the next block's start.
  unsigned char* static_area = nullptr;
  std::vector<std::pair<const void*, size_t>> static_slots;
  size_t static_used = 0;
  std::vector<ThreadState> threads;
  std::vector<std::unique_ptr<WarpState>> warps;
  std::vector<int> order;
  std::deque<int> ready;
  int live = 0;
  int block_arrived = 0;
  ThreadState* current = nullptr;
  FiberContext scheduler;
  std::string error;
  const std::function<void()>* body = nullptr;
  bool in_launch = false;
};

Machine& machine() {
  static Machine m;
  return m;
}

ThreadState& self() {
  Machine& m = machine();
  if (m.current == nullptr) throw KernelError("a device function was called outside a kernel launch");
  return *m.current;
}

std::string where(const ThreadState& t) {
  const Machine& m = machine();
  std::ostringstream s;
  s << m.kernel << " block (" << m.block_idx.x << "," << m.block_idx.y << "," << m.block_idx.z << ") thread ("
    << t.idx.x << "," << t.idx.y << "," << t.idx.z << ")";
  return s.str();
}

// Gives the processor to the next ready fiber, or back to the scheduler when none is ready
// (every thread done, or a deadlock the scheduler reports).
void switch_away(ThreadState& t) {
  Machine& m = machine();
  ++m.counters.switches;
  if (!m.ready.empty()) {
    ThreadState& next = m.threads[static_cast<size_t>(m.ready.front())];
    m.ready.pop_front();
    m.current = &next;
    switch_fiber(t.ctx, next.ctx);
  } else {
    m.current = nullptr;
    switch_fiber(t.ctx, m.scheduler);
  }
  m.current = &t;
}

// Makes the threads waiting at the block barrier (in the launch's order) or in warp `warp`'s
// collective (in lane order) ready.
void release(Wait kind, int warp) {
  Machine& m = machine();
  const auto wake = [&](int i) {
    ThreadState& t = m.threads[static_cast<size_t>(i)];
    if (t.wait != kind) return;
    t.wait = Wait::none;
    m.ready.push_back(i);
  };
  if (kind == Wait::block) {
    for (const int i : m.order) wake(i);
    return;
  }
  const int first = warp * kWarp, end = std::min<int>(first + kWarp, static_cast<int>(m.threads.size()));
  if (m.options.schedule == Schedule::lockstep) {
    for (int i = first; i < end; ++i) wake(i);
    return;
  }
  // warp_ahead: the lanes go to the front of the queue, in lane order.
  for (int i = end - 1; i >= first; --i) {
    ThreadState& t = m.threads[static_cast<size_t>(i)];
    if (t.wait != Wait::warp) continue;
    t.wait = Wait::none;
    m.ready.push_front(i);
  }
}

[[noreturn]] void finish_thread(ThreadState& t) {
  Machine& m = machine();
  t.done = true;
  --m.live;
  WarpState& w = *m.warps[static_cast<size_t>(t.warp)];
  ++w.exited;
  if (w.arrived > 0 && m.error.empty())
    m.error = where(t) + " returned while other lanes of its warp wait in a warp-wide operation (undefined on a GPU)";
  if (m.block_arrived > 0 && m.block_arrived == m.live) {
    m.block_arrived = 0;
    release(Wait::block, 0);
  }
  if (!m.error.empty()) m.ready.clear();
  switch_away(t);
  std::abort();  // a finished fiber is never resumed
}

// The first code a thread's fiber runs; the thread is the one the switch made current.
void fiber_entry() {
  Machine& m = machine();
  ThreadState& t = *m.current;
  try {
    (*m.body)();
  } catch (const std::exception& e) {
    if (m.error.empty()) m.error = where(t) + ": " + e.what();
  } catch (...) {
    if (m.error.empty()) m.error = where(t) + ": an exception that is not std::exception";
  }
  if (!m.error.empty()) {
    // Stop the block: the scheduler reports the error.
    m.ready.clear();
    t.done = true;
    m.current = nullptr;
    switch_fiber(t.ctx, m.scheduler);
    std::abort();
  }
  finish_thread(t);
}

Stack make_stack() {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  Stack s;
  s.map_bytes = kStackBytes + page;
  s.map = mmap(nullptr, s.map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (s.map == MAP_FAILED) throw std::runtime_error("emulator: cannot map a fiber stack");
  mprotect(s.map, page, PROT_NONE);
  s.base = static_cast<char*>(s.map) + page;
  return s;
}

// The fault handlers in place before the launch (a test framework's, say).
struct sigaction g_previous_segv, g_previous_bus;

// Reports a fault inside an emulated kernel (a read past a device buffer's end hits its guard
// page) with the kernel, block and thread, then hands the signal to the handler that was there
// before the launch (the fault repeats when this returns).
void on_fault(int sig, siginfo_t* info, void*) {
  Machine& m = machine();
  char msg[512];
  int n;
  if (m.in_launch && m.current != nullptr) {
    n = std::snprintf(msg, sizeof msg,
                      "rsd emulator: invalid access to %p in %s block (%u,%u,%u) thread (%u,%u,%u): past the end of "
                      "a device buffer or out of a fiber's stack\n",
                      info->si_addr, m.kernel, m.block_idx.x, m.block_idx.y, m.block_idx.z, m.current->idx.x,
                      m.current->idx.y, m.current->idx.z);
  } else {
    n = std::snprintf(msg, sizeof msg, "rsd emulator: invalid access to %p outside a kernel\n", info->si_addr);
  }
  if (n > 0) (void)!write(2, msg, static_cast<size_t>(std::min<int>(n, sizeof msg - 1)));
  sigaction(sig, sig == SIGSEGV ? &g_previous_segv : &g_previous_bus, nullptr);
}

// Installs on_fault for the launch (on an alternate stack: a fiber's may be the one that
// overflowed) and puts the previous handlers back after it.
class FaultHandlerScope {
 public:
  FaultHandlerScope() {
    static std::vector<char> alt(1 << 16);
    stack_t ss{};
    ss.ss_sp = alt.data();
    ss.ss_size = alt.size();
    sigaltstack(&ss, nullptr);
    struct sigaction sa {};
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigaction(SIGSEGV, &sa, &g_previous_segv);
    sigaction(SIGBUS, &sa, &g_previous_bus);
  }
  ~FaultHandlerScope() {
    sigaction(SIGSEGV, &g_previous_segv, nullptr);
    sigaction(SIGBUS, &g_previous_bus, nullptr);
  }
  FaultHandlerScope(const FaultHandlerScope&) = delete;
  FaultHandlerScope& operator=(const FaultHandlerScope&) = delete;
};

std::string deadlock_report() {
  const Machine& m = machine();
  int at_block = 0;
  std::ostringstream warps;
  for (const ThreadState& t : m.threads) {
    if (t.done) continue;
    if (t.wait == Wait::block) ++at_block;
  }
  for (size_t w = 0; w < m.warps.size(); ++w)
    if (m.warps[w]->arrived > 0) warps << " warp " << w << ": " << m.warps[w]->arrived << " of " << m.warps[w]->size << " lanes;";
  std::ostringstream s;
  s << m.kernel << " block (" << m.block_idx.x << "," << m.block_idx.y << "," << m.block_idx.z
    << "): deadlock: " << m.live << " threads still running, " << at_block
    << " wait at __syncthreads() (which the others never reach)";
  const std::string w = warps.str();
  if (!w.empty()) s << "; waiting in warp-wide operations:" << w;
  return s.str();
}

void check_launch(const void* kernel, const char* name, dim3 grid, dim3 block, size_t shared) {
  const Machine& m = machine();
  const uint64_t threads = static_cast<uint64_t>(block.x) * block.y * block.z;
  std::ostringstream s;
  if (threads == 0 || threads > 1024 || block.z > 64)
    s << "a block of " << block.x << " x " << block.y << " x " << block.z << " threads (at most 1024, z at most 64)";
  else if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 || grid.z > 65535 || grid.x > 2147483647u)
    s << "a grid of " << grid.x << " x " << grid.y << " x " << grid.z << " blocks (y and z at most 65535, none 0)";
  else {
    size_t allowed = m.options.default_dynamic_shared;
    const auto it = m.max_shared.find(kernel);
    if (it != m.max_shared.end()) allowed = std::max(allowed, static_cast<size_t>(it->second));
    allowed = std::min(allowed, m.options.max_dynamic_shared);
    if (shared > allowed)
      s << shared << " bytes of dynamic shared memory, " << allowed
        << " allowed (more than 48 KiB needs cudaFuncSetAttribute(MaxDynamicSharedMemorySize); the device has "
        << m.options.max_dynamic_shared << ")";
  }
  if (!s.str().empty()) throw KernelError(std::string(name) + ": the launch fails on a GPU: " + s.str());
}

void prepare_block(uint3 block_idx) {
  Machine& m = machine();
  m.block_idx = block_idx;
  std::memset(m.shared, kPoison, m.shared_capacity);
  std::memset(m.static_area, kPoison, m.static_used);
  m.static_used = 0;
  m.static_slots.clear();
  const int n = static_cast<int>(m.threads.size());
  for (int i = 0; i < n; ++i) {
    ThreadState& t = m.threads[static_cast<size_t>(i)];
    t.linear = i;
    t.idx = uint3{static_cast<unsigned>(i) % m.block.x, (static_cast<unsigned>(i) / m.block.x) % m.block.y,
                  static_cast<unsigned>(i) / (m.block.x * m.block.y)};
    t.warp = i / kWarp;
    t.lane = i % kWarp;
    t.done = false;
    t.wait = Wait::none;
    t.open_group.clear();
    t.committed.clear();
    make_fiber(t.ctx, m.stacks[static_cast<size_t>(i)].base, kStackBytes, fiber_entry);
  }
  for (size_t w = 0; w < m.warps.size(); ++w) {
    WarpState& ws = *m.warps[w];
    ws.size = std::min(kWarp, n - static_cast<int>(w) * kWarp);
    ws.exited = ws.arrived = 0;
    ws.bytes = 0;
    ws.generation = 0;
  }
  m.ready.assign(m.order.begin(), m.order.end());
  m.live = n;
  m.block_arrived = 0;
  m.error.clear();
}

void run_block(uint3 block_idx) {
  Machine& m = machine();
  prepare_block(block_idx);
  ThreadState& first = m.threads[static_cast<size_t>(m.ready.front())];
  m.ready.pop_front();
  m.current = &first;
  switch_fiber(m.scheduler, first.ctx);
  m.current = nullptr;
  ++m.counters.blocks;
  if (!m.error.empty()) throw KernelError(m.error);
  if (m.live > 0) throw KernelError(deadlock_report());
}

void setup_launch(const char* name, dim3 grid, dim3 block, size_t shared, const std::function<void()>& body) {
  Machine& m = machine();
  const size_t n = static_cast<size_t>(block.x) * block.y * block.z;
  while (m.stacks.size() < n) m.stacks.push_back(make_stack());
  m.kernel = name;
  m.grid = grid;
  m.block = block;
  m.body = &body;
  m.shared_bytes = shared;
  const size_t capacity = std::max<size_t>(128, (shared + 127) / 128 * 128);
  if (capacity > m.shared_capacity) {
    std::free(m.shared);
    m.shared = static_cast<unsigned char*>(std::aligned_alloc(128, capacity));
    m.shared_capacity = capacity;
  }
  if (m.static_area == nullptr) {
    m.static_area = static_cast<unsigned char*>(std::aligned_alloc(128, kStaticShared));
    std::memset(m.static_area, kPoison, kStaticShared);
  }
  m.threads.resize(n);
  m.warps.clear();
  for (size_t w = 0; w < (n + kWarp - 1) / kWarp; ++w) m.warps.push_back(std::make_unique<WarpState>());
  m.order.resize(n);
  std::iota(m.order.begin(), m.order.end(), 0);
  if (m.options.order == Order::reverse) std::reverse(m.order.begin(), m.order.end());
  if (m.options.order == Order::shuffled) {
    std::mt19937_64 rng(m.options.seed + static_cast<uint64_t>(m.counters.launches));
    std::shuffle(m.order.begin(), m.order.end(), rng);
  }
}

float bf16_half(uint32_t word, bool high) {
  const uint32_t bits = high ? (word & 0xffff0000u) : (word << 16);
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

uint16_t b16_at(const void* row, int column) {
  uint16_t v;
  std::memcpy(&v, static_cast<const unsigned char*>(row) + 2 * column, sizeof v);
  return v;
}

}  // namespace

Options& options() { return machine().options; }

Counters counters() { return machine().counters; }

void* device_alloc(size_t bytes) {
  Machine& m = machine();
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t padded = (std::max<size_t>(bytes, 1) + 15) / 16 * 16;
  const size_t total = (padded + page - 1) / page * page + page;
  void* map = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) throw std::runtime_error("emulator: cannot map " + std::to_string(total) + " bytes");
  char* guard = static_cast<char*>(map) + total - page;
  mprotect(guard, page, PROT_NONE);
  void* p = guard - padded;
  std::memset(p, kPoison, padded);
  m.allocations[p] = {map, total};
  return p;
}

void device_free(void* p) {
  Machine& m = machine();
  const auto it = m.allocations.find(p);
  if (it == m.allocations.end()) return;
  munmap(it->second.first, it->second.second);
  m.allocations.erase(it);
}

uint3 thread_idx() { return self().idx; }
uint3 block_idx() { return machine().block_idx; }
dim3 block_dim() { return machine().block; }
dim3 grid_dim() { return machine().grid; }
int lane_id() { return self().lane; }

char* dynamic_shared_base() { return reinterpret_cast<char*>(machine().shared); }

bool in_dynamic_shared(const void* p, size_t bytes) {
  const Machine& m = machine();
  const auto* c = static_cast<const unsigned char*>(p);
  return c >= m.shared && c + bytes <= m.shared + m.shared_bytes;
}

bool in_shared(const void* p, size_t bytes) {
  const Machine& m = machine();
  const auto* c = static_cast<const unsigned char*>(p);
  return in_dynamic_shared(p, bytes) || (c >= m.static_area && c + bytes <= m.static_area + m.static_used);
}

void* static_shared_bytes(const void* key, size_t bytes, size_t align) {
  Machine& m = machine();
  for (const auto& [k, offset] : m.static_slots)
    if (k == key) return m.static_area + offset;
  const size_t offset = (m.static_used + align - 1) / align * align;
  if (offset + bytes > kStaticShared)
    throw KernelError("more than 48 KiB of static __shared__ memory in one block (the CUDA limit)");
  if (offset + bytes + m.shared_bytes > m.options.max_dynamic_shared)
    throw KernelError("static and dynamic shared memory together exceed the device's " +
                      std::to_string(m.options.max_dynamic_shared) + " bytes a block");
  m.static_slots.emplace_back(key, offset);
  m.static_used = offset + bytes;
  return m.static_area + offset;
}

void sync_threads() {
  Machine& m = machine();
  ThreadState& t = self();
  if (++m.block_arrived == m.live) {
    m.block_arrived = 0;
    release(Wait::block, 0);
    return;
  }
  t.wait = Wait::block;
  switch_away(t);
}

const unsigned char* warp_exchange(const void* mine, size_t bytes) {
  Machine& m = machine();
  ThreadState& t = self();
  WarpState& w = *m.warps[static_cast<size_t>(t.warp)];
  if (w.exited > 0)
    throw KernelError("a warp-wide operation after " + std::to_string(w.exited) +
                      " lanes of the warp returned (undefined on a GPU: the full mask names them)");
  if (w.arrived == 0) {
    w.bytes = bytes;
  } else if (w.bytes != bytes) {
    throw KernelError("lanes of one warp are in different warp-wide operations (divergent shuffles or MMAs)");
  }
  unsigned char* buf = w.buf[w.generation & 1];
  if (bytes > 0) std::memcpy(buf + static_cast<size_t>(t.lane) * bytes, mine, bytes);
  if (++w.arrived == w.size) {
    w.arrived = 0;
    ++w.generation;
    release(Wait::warp, t.warp);
  } else {
    t.wait = Wait::warp;
    switch_away(t);
  }
  return buf;
}

void sync_warp() { warp_exchange(nullptr, 0); }

void async_copy16(void* dst, const void* src, bool valid) {
  if (!in_shared(dst, 16) || reinterpret_cast<uintptr_t>(dst) % 16 != 0)
    throw KernelError("cp.async to an address that is not 16-byte aligned shared memory");
  if (valid && reinterpret_cast<uintptr_t>(src) % 16 != 0)
    throw KernelError("cp.async from a global address that is not 16-byte aligned");
  PendingCopy c{dst, {}};
  if (valid) std::memcpy(c.bytes, src, 16);
  if (machine().options.copies == CopyTiming::at_issue) {
    std::memcpy(dst, c.bytes, 16);
    return;
  }
  self().open_group.push_back(c);
}

void async_commit() {
  ThreadState& t = self();
  t.committed.push_back(std::move(t.open_group));
  t.open_group.clear();
}

void async_wait(int pending) {
  ThreadState& t = self();
  while (static_cast<int>(t.committed.size()) > pending) {
    for (const PendingCopy& c : t.committed.front()) std::memcpy(c.dst, c.bytes, 16);
    t.committed.pop_front();
  }
}

namespace {

// Each matrix of an ldmatrix is one phase: lanes 8m..8m+7 give its 8 rows of 16 bytes, which
// need 8 distinct groups of 4 banks to be read in one cycle.
template <typename RowOf>
void count_bank_conflicts(const RowOf& row) {
  Machine& m = machine();  // counters
  for (int matrix = 0; matrix < 4; ++matrix) {
    unsigned groups = 0;
    for (int r = 0; r < 8; ++r) {
      // Both shared areas start 128-byte aligned, so the address itself gives the bank.
      const auto address = reinterpret_cast<uintptr_t>(row(8 * matrix + r));
      groups |= 1u << ((address / 16) % 8);
    }
    ++m.counters.ldmatrix_phases;
    if (groups != 0xffu) ++m.counters.ldmatrix_conflicts;
  }
}

}  // namespace

void ldmatrix_x4(uint32_t (&r)[4], const void* p, bool trans) {
  if (!in_shared(p, 16) || reinterpret_cast<uintptr_t>(p) % 16 != 0)
    throw KernelError("ldmatrix from an address that is not 16-byte aligned shared memory");
  const unsigned char* all = warp_exchange(&p, sizeof p);
  const auto row = [&](int lane) {
    const void* q;
    std::memcpy(&q, all + static_cast<size_t>(lane) * sizeof q, sizeof q);
    return q;
  };
  const int lane = self().lane, g = lane / 4, t = lane % 4;
  if (lane == 0) count_bank_conflicts(row);
  for (int m = 0; m < 4; ++m) {
    uint16_t lo, hi;
    if (!trans) {
      lo = b16_at(row(8 * m + g), 2 * t);
      hi = b16_at(row(8 * m + g), 2 * t + 1);
    } else {
      lo = b16_at(row(8 * m + 2 * t), g);
      hi = b16_at(row(8 * m + 2 * t + 1), g);
    }
    r[m] = static_cast<uint32_t>(lo) | (static_cast<uint32_t>(hi) << 16);
  }
}

void mma_m16n8k16_bf16(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  struct In {
    uint32_t a[4], b[2];
    float c[4];
  };
  const In mine{{a[0], a[1], a[2], a[3]}, {b0, b1}, {c[0], c[1], c[2], c[3]}};
  const unsigned char* all = warp_exchange(&mine, sizeof mine);
  const auto lane_in = [&](int lane) {
    In v;
    std::memcpy(&v, all + static_cast<size_t>(lane) * sizeof(In), sizeof v);
    return v;
  };
  // A(row, k) and B(k, n) from the lanes holding them (layouts in kernels/ptx.cuh): A's row r,
  // columns 2t'..2t'+1 (+8) are in lane 4 (r % 8) + t', register (r >= 8) + 2 (k >= 8); B's
  // column n, rows 2t'..2t'+1 (+8) in lane 4 n + t', register (k >= 8).
  const auto a_at = [&](int row, int k) {
    const In v = lane_in(4 * (row % 8) + (k % 8) / 2);
    return bf16_half(v.a[(row >= 8 ? 1 : 0) + (k >= 8 ? 2 : 0)], k % 2 == 1);
  };
  const auto b_at = [&](int k, int n) {
    const In v = lane_in(4 * n + (k % 8) / 2);
    return bf16_half(v.b[k >= 8 ? 1 : 0], k % 2 == 1);
  };
  const int lane = self().lane, g = lane / 4, t = lane % 4;
  for (int e = 0; e < 4; ++e) {
    const int row = g + 8 * (e >> 1), col = 2 * t + (e & 1);
    double sum = 0.0;  // bf16 products are exact; the tensor core sums them at >= f32 precision
    for (int k = 0; k < 16; ++k) sum += static_cast<double>(a_at(row, k)) * b_at(k, col);
    c[e] = static_cast<float>(static_cast<double>(c[e]) + sum);
  }
}

void set_max_dynamic_shared(const void* kernel, int bytes) { machine().max_shared[kernel] = bytes; }

void run_grid(const char* name, const void* kernel, dim3 grid, dim3 block, size_t shared,
              const std::function<void()>& body) {
  Machine& m = machine();
  if (m.in_launch) throw KernelError(std::string(name) + ": launched from inside a kernel");
  check_launch(kernel, name, grid, block, shared);
  const FaultHandlerScope faults;
  setup_launch(name, grid, block, shared, body);
  ++m.counters.launches;
  m.in_launch = true;
  try {
    for (unsigned z = 0; z < grid.z; ++z)
      for (unsigned y = 0; y < grid.y; ++y)
        for (unsigned x = 0; x < grid.x; ++x) run_block(uint3{x, y, z});
  } catch (...) {
    m.in_launch = false;
    throw;
  }
  m.in_launch = false;
}

}  // namespace rsd::emu
