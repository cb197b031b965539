// The MPI backend against values computed by hand from the rank, and the autograd collectives
// against one process computing the same losses on the whole (concatenated) input.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "engine/autograd.h"
#include "engine/comm/collective_ops.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/linear.h"
#include "engine/ops/reduce.h"
#include "tests/support/runner.h"

using namespace rsd;
using namespace rsd::comm;
using rsd::test::mpi_world;

namespace {

// Element i of rank r's input: quarter-integers, so that sums of a few of them are exact in f32.
double value(int r, int64_t i) { return 0.25 * static_cast<double>((i * 7 + r * 5) % 23) - 2.0 + r; }

// Smooth, rank-dependent values for the gradient checks.
double smooth(int r, int64_t i) { return 0.5 * std::sin(0.37 * static_cast<double>(i) + 1.3 * r); }

std::vector<double> values(int r, int64_t n, double (*f)(int, int64_t) = value, int64_t first = 0) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = f(r, first + i);
  return v;
}

// max |got - want| / max |want|: a relative error that tolerates elements near zero.
double relative_error(const std::vector<double>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  double diff = 0.0, scale = 0.0;
  for (size_t i = 0; i < got.size(); ++i) {
    diff = std::max(diff, std::abs(got[i] - want[i]));
    scale = std::max(scale, std::abs(want[i]));
  }
  return diff / std::max(scale, 1e-300);
}

// Tolerance of a comparison of sums and averages: exact sums, one rounding of the division.
double tolerance(DType dt) { return dt == DType::f32 ? 1e-6 : 1e-14; }

const Shape kOddShapes[] = {{1}, {7}, {3, 5, 7}, {1001}};

}  // namespace

TEST_SUITE("comm" * rsd::test::on_mpi()) {
  TEST_CASE("the world matches the launch") {
    Communicator& c = mpi_world();
    REQUIRE(c.world_size() >= 2);
    CHECK(c.backend() == "mpi");
    CHECK(c.launch().under_mpi);
    CHECK(c.rank() >= 0);
    CHECK(c.rank() < c.world_size());
    CHECK(c.device() == Device::cpu());
  }

  TEST_CASE("all_reduce sum and average, f32 and f64, odd sizes") {
    Communicator& c = mpi_world();
    const int w = c.world_size();
    for (DType dt : {DType::f32, DType::f64})
      for (const Shape& shape : kOddShapes)
        for (ReduceOp op : {ReduceOp::sum, ReduceOp::average}) {
          CAPTURE(dtype_name(dt));
          CAPTURE(shape_str(shape));
          CAPTURE(op == ReduceOp::sum ? "sum" : "average");
          const int64_t n = shape_numel(shape);
          Tensor t = Tensor::from_vector(values(c.rank(), n), shape, dt);
          c.all_reduce(t, op);
          std::vector<double> want(static_cast<size_t>(n), 0.0);
          for (int r = 0; r < w; ++r)
            for (int64_t i = 0; i < n; ++i) want[static_cast<size_t>(i)] += value(r, i);
          if (op == ReduceOp::average)
            for (double& x : want) x /= w;
          CHECK(t.shape() == shape);
          CHECK(relative_error(t.to_host_doubles(), want) <= tolerance(dt));
        }
  }

  TEST_CASE("all_reduce_async: test() until done, then wait()") {
    Communicator& c = mpi_world();
    const int w = c.world_size();
    for (DType dt : {DType::f32, DType::f64})
      for (ReduceOp op : {ReduceOp::sum, ReduceOp::average}) {
        CAPTURE(dtype_name(dt));
        const int64_t n = 4099;
        Tensor t = Tensor::from_vector(values(c.rank(), n), {n}, dt);
        Tensor u = Tensor::from_vector(values(c.rank() + 1, n), {n}, dt);
        // Two reductions in flight at once, completed in the opposite order.
        auto work_t = c.all_reduce_async(t, op);
        auto work_u = c.all_reduce_async(u, op);
        while (!work_u->test()) std::this_thread::yield();
        CHECK(work_u->test());
        work_u->wait();
        work_t->wait();
        work_t->wait();  // idempotent: the average is not divided twice
        CHECK(work_t->test());
        std::vector<double> want_t(static_cast<size_t>(n), 0.0), want_u(static_cast<size_t>(n), 0.0);
        for (int r = 0; r < w; ++r)
          for (int64_t i = 0; i < n; ++i) {
            want_t[static_cast<size_t>(i)] += value(r, i);
            want_u[static_cast<size_t>(i)] += value(r + 1, i);
          }
        if (op == ReduceOp::average) {
          for (double& x : want_t) x /= w;
          for (double& x : want_u) x /= w;
        }
        CHECK(relative_error(t.to_host_doubles(), want_t) <= tolerance(dt));
        CHECK(relative_error(u.to_host_doubles(), want_u) <= tolerance(dt));
      }
  }

  TEST_CASE("all_gather: rank-major rows") {
    Communicator& c = mpi_world();
    const int w = c.world_size();
    for (DType dt : {DType::f32, DType::f64})
      for (const Shape& shape : kOddShapes) {
        CAPTURE(dtype_name(dt));
        CAPTURE(shape_str(shape));
        const int64_t n = shape_numel(shape);
        const Tensor x = Tensor::from_vector(values(c.rank(), n), shape, dt);
        const Tensor y = c.all_gather(x);
        Shape want_shape = shape;
        want_shape[0] *= w;
        CHECK(y.shape() == want_shape);
        CHECK(y.dtype() == dt);
        std::vector<double> want;
        for (int r = 0; r < w; ++r) {
          const std::vector<double> v = values(r, n);
          want.insert(want.end(), v.begin(), v.end());
        }
        CHECK(y.to_host_doubles() == want);
        CHECK(x.to_host_doubles() == values(c.rank(), n));
      }
  }

  TEST_CASE("reduce_scatter sum and average: block r of the sum lands on rank r") {
    Communicator& c = mpi_world();
    const int w = c.world_size();
    for (DType dt : {DType::f32, DType::f64})
      for (ReduceOp op : {ReduceOp::sum, ReduceOp::average})
        for (const Shape& block : {Shape{1}, Shape{3, 5}, Shape{7, 1, 3}}) {
          CAPTURE(dtype_name(dt));
          CAPTURE(shape_str(block));
          Shape shape = block;
          shape[0] *= w;
          const int64_t total = shape_numel(shape), n = shape_numel(block);
          const Tensor x = Tensor::from_vector(values(c.rank(), total), shape, dt);
          const Tensor y = c.reduce_scatter(x, op);
          CHECK(y.shape() == block);
          std::vector<double> want(static_cast<size_t>(n), 0.0);
          for (int r = 0; r < w; ++r)
            for (int64_t i = 0; i < n; ++i) want[static_cast<size_t>(i)] += value(r, c.rank() * n + i);
          if (op == ReduceOp::average)
            for (double& v : want) v /= w;
          CHECK(relative_error(y.to_host_doubles(), want) <= tolerance(dt));
        }
  }

  TEST_CASE("broadcast from a non-zero root") {
    Communicator& c = mpi_world();
    const int root = c.world_size() - 1;
    for (DType dt : {DType::f32, DType::f64}) {
      CAPTURE(dtype_name(dt));
      Tensor t = Tensor::from_vector(values(c.rank(), 37), {37}, dt);
      c.broadcast(t, root);
      CHECK(t.to_host_doubles() == values(root, 37));
    }
  }

  TEST_CASE("barrier holds every rank until the last one arrives") {
    Communicator& c = mpi_world();
    c.barrier();
    const auto start = std::chrono::steady_clock::now();
    if (c.rank() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(300));
    c.barrier();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    CHECK(seconds >= 0.1);
  }

  TEST_CASE("bad arguments fail on every rank before anything is sent") {
    Communicator& c = mpi_world();
    const int w = c.world_size();
    const Tensor uneven = Tensor::zeros({w + 1, 2}, DType::f32);
    CHECK_THROWS_WITH_AS(c.reduce_scatter(uneven, ReduceOp::sum),
                         doctest::Contains("not a multiple of the world size"), Error);
    Tensor bf16 = Tensor::zeros({4}, DType::bf16);
    CHECK_THROWS_WITH_AS(c.all_reduce(bf16, ReduceOp::sum),
                         doctest::Contains("the mpi backend moves f32 and f64 tensors; cast first"), Error);
    Tensor t = Tensor::zeros({4}, DType::f32);
    CHECK_THROWS_WITH_AS(c.broadcast(t, w), doctest::Contains("is not a rank of this world"), Error);
    // The world still works afterwards.
    Tensor one = Tensor::full({1}, 1.0, DType::f64);
    c.all_reduce(one, ReduceOp::sum);
    CHECK(one.item() == w);
  }

  TEST_CASE("all_gather_rows: gradients equal one process on the concatenated input") {
    Communicator& c = mpi_world();
    const int w = c.world_size();
    const int64_t n = 3, d = 4, out = 5;
    for (DType dt : {DType::f64, DType::f32}) {
      CAPTURE(dtype_name(dt));
      // Rank r's loss: sum(exp(Y W_r^T)) over the gathered Y; the total is the sum over ranks.
      auto weight = [&](int r) { return Tensor::from_vector(values(r + 7, out * d, smooth), {out, d}, dt); };

      Tensor x = Tensor::from_vector(values(c.rank(), n * d, smooth), {n, d}, dt);
      x.set_requires_grad(true);
      Tensor y = all_gather_rows(x, c);
      Tensor loss = sum(exp(linear(y, weight(c.rank()))));
      backward(loss);
      Tensor total = Tensor::full({1}, loss.item(), DType::f64);
      c.all_reduce(total, ReduceOp::sum);

      // One process: every rank's rows and every rank's loss.
      std::vector<double> all;
      for (int r = 0; r < w; ++r) {
        const std::vector<double> v = values(r, n * d, smooth);
        all.insert(all.end(), v.begin(), v.end());
      }
      Tensor big = Tensor::from_vector(all, {w * n, d}, dt);
      big.set_requires_grad(true);
      Tensor ref_loss = sum(exp(linear(big, weight(0))));
      for (int r = 1; r < w; ++r) ref_loss = add(ref_loss, sum(exp(linear(big, weight(r)))));
      backward(ref_loss);

      CHECK(std::abs(total.item() - ref_loss.item()) <= 1e-6 * std::abs(ref_loss.item()));
      const std::vector<double> g = big.grad().to_host_doubles();
      const std::vector<double> mine(g.begin() + c.rank() * n * d, g.begin() + (c.rank() + 1) * n * d);
      CHECK(relative_error(x.grad().to_host_doubles(), mine) <= 1e-6);
    }
  }

  TEST_CASE("all_reduce_sum: every rank's input gets the gradient of the summed output") {
    Communicator& c = mpi_world();
    const int w = c.world_size();
    const int64_t n = 3, d = 4, out = 2;
    for (DType dt : {DType::f64, DType::f32}) {
      CAPTURE(dtype_name(dt));
      auto weight = [&](int r) { return Tensor::from_vector(values(r + 3, out * d, smooth), {out, d}, dt); };

      Tensor x = Tensor::from_vector(values(c.rank(), n * d, smooth), {n, d}, dt);
      x.set_requires_grad(true);
      Tensor s = all_reduce_sum(x, c);
      Tensor loss = sum(exp(linear(s, weight(c.rank()))));
      backward(loss);
      Tensor total = Tensor::full({1}, loss.item(), DType::f64);
      c.all_reduce(total, ReduceOp::sum);

      std::vector<double> summed(static_cast<size_t>(n * d), 0.0);
      for (int r = 0; r < w; ++r) {
        const std::vector<double> v = values(r, n * d, smooth);
        for (size_t i = 0; i < v.size(); ++i) summed[i] += v[i];
      }
      CHECK(relative_error(s.to_host_doubles(), summed) <= tolerance(dt));
      Tensor ref_s = Tensor::from_vector(summed, {n, d}, dt);
      ref_s.set_requires_grad(true);
      Tensor ref_loss = sum(exp(linear(ref_s, weight(0))));
      for (int r = 1; r < w; ++r) ref_loss = add(ref_loss, sum(exp(linear(ref_s, weight(r)))));
      backward(ref_loss);

      CHECK(std::abs(total.item() - ref_loss.item()) <= 1e-6 * std::abs(ref_loss.item()));
      CHECK(relative_error(x.grad().to_host_doubles(), ref_s.grad().to_host_doubles()) <= 1e-6);
    }
  }
}
