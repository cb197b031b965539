#include <doctest/doctest.h>

#include "engine/allocator.h"
#include "engine/autograd.h"
#include "engine/ops/convert.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"

using namespace rsd;

namespace {
Tensor leaf(std::vector<double> v) {
  Tensor t = Tensor::from_vector(v, {static_cast<int64_t>(v.size())}, DType::f64);
  t.set_requires_grad(true);
  return t;
}
}  // namespace

TEST_SUITE("autograd") {
  TEST_CASE("backward walks the tape in reverse and clears it") {
    Tensor x = leaf({-1.0, 2.0, 3.0});
    Tensor y = sum(relu(x));
    CHECK(tape().op_names() == std::vector<std::string>{"relu", "sum"});
    backward(y);
    CHECK(tape().size() == 0);
    CHECK(x.grad().to_host_doubles() == std::vector<double>{0.0, 1.0, 1.0});
  }

  TEST_CASE("a tensor used twice accumulates both gradients") {
    Tensor x = leaf({1.0, -2.0});
    Tensor y = sum(add(relu(x), x));  // d/dx = relu'(x) + 1
    backward(y);
    CHECK(x.grad().to_host_doubles() == std::vector<double>{2.0, 1.0});
  }

  TEST_CASE("gradients shared between two inputs are not corrupted by later accumulation") {
    // add() hands the same gradient to both of its inputs; b receives a second contribution.
    Tensor x = leaf({1.0, 2.0});
    Tensor a = relu(x), b = relu(x);
    Tensor s = add(a, b);
    Tensor y = sum(add(s, b));  // dy/da = 1, dy/db = 2, dy/dx = 3
    backward(y);
    CHECK(x.grad().to_host_doubles() == std::vector<double>{3.0, 3.0});
  }

  TEST_CASE("leaf gradients accumulate across backward calls until zeroed") {
    Tensor x = leaf({1.0});
    backward(sum(x));
    backward(sum(x));
    CHECK(x.grad().item() == 2.0);
    x.zero_grad();
    CHECK(x.grad().item() == 0.0);
  }

  TEST_CASE("no-grad scope records nothing") {
    Tensor x = leaf({1.0, 2.0});
    {
      NoGradScope no_grad;
      Tensor y = relu(x);
      CHECK_FALSE(y.requires_grad());
    }
    CHECK(tape().size() == 0);
  }

  TEST_CASE("inputs without requires_grad record nothing") {
    Tensor x = Tensor::from_vector({1.0}, {1}, DType::f64);
    Tensor y = relu(x);
    CHECK_FALSE(y.requires_grad());
    CHECK(tape().size() == 0);
  }

  TEST_CASE("a leaf's gradient made inside an arena step outlives the arena reset") {
    Tensor w = leaf({1.0, 2.0, 3.0});
    Arena& arena = arena_for(Device::cpu());
    {
      ArenaScope scope(arena);
      backward(mean(relu(w)));
    }
    arena.reset();
    CHECK(w.grad().to_host_doubles() == std::vector<double>{1.0 / 3, 1.0 / 3, 1.0 / 3});
  }

  TEST_CASE("backward frees each node's saved tensors as soon as it has run") {
    // A chain of 16 ReLUs over 1 MiB: the forward keeps 16 activations alive. If the backward kept
    // them to the end, its 1 MiB gradients would come on top (peak ~32 MiB); freeing each node's
    // saved tensors after it ran keeps the peak at the forward's.
    Arena& arena = arena_for(Device::cpu());
    arena.reset();
    Tensor x = Tensor::full({1 << 18}, 1.0, DType::f32);
    x.set_requires_grad(true);
    int64_t forward_peak = 0;
    {
      ArenaScope scope(arena);
      arena.reset_peak();
      Tensor y = x;
      for (int i = 0; i < 16; ++i) y = relu(y);
      Tensor loss = sum(y);
      y = Tensor();
      forward_peak = arena.stats().peak_bytes_in_use;
      CHECK(forward_peak >= 16 * (int64_t{1} << 20));
      backward(loss);
    }
    CHECK(arena.stats().peak_bytes_in_use <= forward_peak + 3 * (int64_t{1} << 20));
    arena.reset();
    CHECK(x.grad().to_host_doubles()[7] == 1.0);
  }

  TEST_CASE("backward needs a recorded scalar or a seed") {
    Tensor x = leaf({1.0, 2.0});
    Tensor y = relu(x);
    CHECK_THROWS_WITH_AS(backward(y), doctest::Contains("not a scalar"), Error);
    tape().clear();
    Tensor c = Tensor::from_vector({1.0}, {1}, DType::f64);
    CHECK_THROWS_WITH_AS(backward(c), doctest::Contains("does not require grad"), Error);
  }

  TEST_CASE("reshape and cast pass gradients back") {
    Tensor x = leaf({1.0, -1.0, 2.0, 3.0});
    Tensor y = sum(relu(reshape(cast(x, DType::f32), {2, 2})));
    backward(y);
    CHECK(x.grad().to_host_doubles() == std::vector<double>{1.0, 0.0, 1.0, 1.0});
    CHECK(x.grad().dtype() == DType::f64);
  }
}
