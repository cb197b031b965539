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
