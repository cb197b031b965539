#include <doctest/doctest.h>

#include "engine/allocator.h"
#include "engine/tensor.h"

using namespace rsd;

TEST_SUITE("allocator") {
  TEST_CASE("the caching pool reuses freed blocks") {
    CachingPool pool(Device::cpu());
    void* a = pool.allocate(1000);
    pool.release(a, 1000);
    void* b = pool.allocate(900);  // same 512-byte bucket (1024)
    CHECK(a == b);
    CHECK(pool.stats().raw_allocs == 1);
    pool.release(b, 900);
    CHECK(pool.stats().bytes_in_use == 0);
    pool.empty_cache();
    CHECK(pool.stats().bytes_reserved == 0);
    CHECK(CachingPool::round_size(1) == 512);
    CHECK(CachingPool::round_size((1 << 20) + 1) == (size_t{2} << 20));
  }

  TEST_CASE("the arena settles into one chunk and stable addresses") {
    Arena arena(Device::cpu());
    auto step = [&] {
      std::vector<void*> ptrs;
      for (int i = 0; i < 5; ++i) ptrs.push_back(arena.allocate(size_t{30} << 20));  // 150 MiB > one 64 MiB chunk
      arena.reset();
      return ptrs;
    };
    step();
    const int64_t raw_after_first = arena.stats().raw_allocs;
    const std::vector<void*> second = step();
    const std::vector<void*> third = step();
    CHECK(arena.stats().raw_allocs == raw_after_first);  // no raw allocation in steady state
    CHECK(second == third);                              // same addresses every step
    for (void* p : second) CHECK(reinterpret_cast<uintptr_t>(p) % Arena::kAlignment == 0);
  }

  TEST_CASE("the arena reuses a released block within the step and coalesces free neighbours") {
    Arena arena(Device::cpu());
    constexpr size_t kMiB = size_t{1} << 20;
    void* a = arena.allocate(4 * kMiB);
    void* b = arena.allocate(4 * kMiB);
    void* c = arena.allocate(4 * kMiB);
    CHECK(arena.stats().bytes_in_use == static_cast<int64_t>(12 * kMiB));
    arena.release(b, 4 * kMiB);
    CHECK(arena.stats().bytes_in_use == static_cast<int64_t>(8 * kMiB));
    CHECK(arena.allocate(3 * kMiB) == b);  // best fit: the hole b left, not the chunk's tail
    arena.release(b, 3 * kMiB);
    arena.release(a, 4 * kMiB);
    // a and b's hole coalesce into one 8 MiB range at a's address.
    CHECK(arena.allocate(8 * kMiB) == a);
    CHECK(arena.stats().peak_bytes_in_use == static_cast<int64_t>(12 * kMiB));
    arena.release(c, 4 * kMiB);
    CHECK(arena.stats().raw_allocs == 1);
    arena.reset();
    CHECK(arena.stats().bytes_in_use == 0);
  }

  TEST_CASE("a block released after a reset is ignored: its memory belongs to the new step") {
    Arena& arena = arena_for(Device::cpu());
    arena.reset();
    Tensor stale;
    {
      ArenaScope scope(arena);
      stale = Tensor::empty({1 << 18}, DType::f32);
    }
    arena.reset();
    void* reused;
    {
      ArenaScope scope(arena);
      Tensor fresh = Tensor::empty({1 << 18}, DType::f32);
      reused = fresh.raw();
      const int64_t in_use = arena.stats().bytes_in_use;
      stale = Tensor();  // old generation: must not free fresh's memory
      CHECK(arena.stats().bytes_in_use == in_use);
      Tensor other = Tensor::empty({1 << 18}, DType::f32);
      CHECK(other.raw() != reused);
    }
    arena.reset();
  }

  TEST_CASE("the step's peak is its live peak: dead temporaries are reused") {
    Arena& arena = arena_for(Device::cpu());
    arena.reset();
    arena.reset_peak();
    {
      ArenaScope scope(arena);
      for (int i = 0; i < 50; ++i) {
        Tensor t = Tensor::empty({1 << 18}, DType::f32);  // 1 MiB, dead at the end of the iteration
      }
    }
    CHECK(arena.stats().peak_bytes_in_use == static_cast<int64_t>(size_t{1} << 20));
    arena.reset();
  }

  TEST_CASE("tensors in an ArenaScope come from the arena and are invalid after reset") {
    Arena& arena = arena_for(Device::cpu());
    Tensor inside, outside;
    {
      ArenaScope scope(arena);
      inside = Tensor::zeros({16}, DType::f32);
      {
        ArenaSuspend persistent;
        outside = Tensor::zeros({16}, DType::f32);
      }
    }
    CHECK(inside.raw() != nullptr);
    arena.reset();
    CHECK_THROWS_WITH_AS(inside.raw(), doctest::Contains("arena"), Error);
    CHECK(outside.raw() != nullptr);
  }

  TEST_CASE("a steady-state loop of ops allocates nothing new") {
    Arena& arena = arena_for(Device::cpu());
    CachingPool& pool = pool_for(Device::cpu());
    auto step = [&] {
      {
        ArenaScope scope(arena);
        Tensor a = Tensor::full({1000}, 1.0, DType::f32);
        Tensor b = Tensor::full({1000}, 2.0, DType::f32);
        a.copy_from(b);
      }
      arena.reset();
    };
    step();
    step();
    const int64_t arena_raw = arena.stats().raw_allocs, pool_raw = pool.stats().raw_allocs;
    for (int i = 0; i < 10; ++i) step();
    CHECK(arena.stats().raw_allocs == arena_raw);
    CHECK(pool.stats().raw_allocs == pool_raw);
  }
}
