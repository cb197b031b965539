// rsd::shutdown() (engine/shutdown.h) in a process of its own, since it ends the engine's device
// state for good and a doctest case in rsd_tests could not run after it.
//   rsd_shutdown_test          the order of the phases and the pools' and arenas' teardown, on the
//                              CPU device (the same logic as on a GPU, without cudaFree)
//   rsd_shutdown_test --cuda   a GPU process that returns from main with device memory in use,
//                              cached and in static tensors, without calling shutdown(): the
//                              std::atexit hook must end it cleanly (exit code 0, no abort).
//                              Exits 77 (skipped) without a GPU.
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/allocator.h"
#include "engine/device.h"
#include "engine/shutdown.h"
#include "engine/tensor.h"

using namespace rsd;

namespace {

int g_failures = 0;

void expect(bool ok, const std::string& what) {
  if (!ok) {
    ++g_failures;
    std::fprintf(stderr, "FAILED: %s\n", what.c_str());
  }
}

// Destroyed after main returns, after shutdown: its memory goes straight back to the raw allocator.
Tensor g_static_tensor;

int check_cpu_teardown() {
  std::vector<std::string> order;
  on_shutdown(ShutdownPhase::contexts, "contexts hook", [&] { order.push_back("contexts"); });
  on_shutdown(ShutdownPhase::memory, "a failing hook", [] { throw std::runtime_error("on purpose"); });
  on_shutdown(ShutdownPhase::memory, "memory hook", [&] { order.push_back("memory"); });
  on_shutdown(ShutdownPhase::synchronize, "synchronize hook", [&] { order.push_back("synchronize"); });

  const Device cpu = Device::cpu();
  CachingPool& pool = pool_for(cpu);
  Arena& arena = arena_for(cpu);
  Tensor in_use = Tensor::empty({1 << 16}, DType::f32);
  { Tensor cached = Tensor::empty({1 << 17}, DType::f32); }  // back in the pool's cache
  g_static_tensor = Tensor::empty({1 << 10}, DType::f32);
  Tensor in_arena;
  {
    ArenaScope scope(arena);
    in_arena = Tensor::empty({1 << 16}, DType::f32);
  }
  expect(pool.stats().bytes_reserved > pool.stats().bytes_in_use, "the pool caches a freed block before shutdown");
  expect(arena.stats().bytes_reserved > 0, "the arena holds a chunk before shutdown");

  shutdown();
  expect(is_shut_down(), "is_shut_down() after shutdown()");
  expect(order == std::vector<std::string>{"synchronize", "memory", "contexts"},
         "phases run in order (synchronize, memory, contexts), a failing hook does not stop the rest");
  expect(pool.stats().bytes_reserved == pool.stats().bytes_in_use, "shutdown returns the pool's cached blocks");
  expect(arena.stats().bytes_reserved == 0, "shutdown returns the arena's chunks");
  bool threw = false;
  try {
    in_arena.raw();
  } catch (const std::exception&) {
    threw = true;
  }
  expect(threw, "a tensor in the arena is invalid after shutdown");

  const int64_t frees = pool.stats().raw_frees;
  in_use = Tensor();
  expect(pool.stats().raw_frees == frees + 1, "after shutdown a released block goes straight back to the raw allocator");
  in_arena = Tensor();  // its arena was shut down: ignored, no crash

  shutdown();  // a second call does nothing
  expect(order.size() == 3, "shutdown runs its hooks once");
  bool ran = false;
  on_shutdown(ShutdownPhase::memory, "late hook", [&] { ran = true; });
  expect(ran, "a hook registered after shutdown runs at once");
  return g_failures == 0 ? 0 : 1;
}

int check_cuda_exit() {
  if (cuda_device_count() == 0) {
    std::printf("skipped: %s\n", cuda_unavailable_reason().c_str());
    return 77;
  }
  const Device gpu = Device::cuda(0);
  { Tensor cached = Tensor::empty({1 << 20}, DType::f32, gpu); }
  g_static_tensor = Tensor::empty({1 << 20}, DType::f32, gpu);
  Arena& arena = arena_for(gpu);
  ArenaScope scope(arena);
  Tensor in_arena = Tensor::empty({1 << 20}, DType::f32, gpu);
  std::printf("returning from main with GPU memory in use, cached and static; shutdown comes from std::atexit\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const bool cuda = argc > 1 && std::strcmp(argv[1], "--cuda") == 0;
  const int rc = cuda ? check_cuda_exit() : check_cpu_teardown();
  if (rc == 0) std::printf("shutdown: ok\n");
  return rc;
}
