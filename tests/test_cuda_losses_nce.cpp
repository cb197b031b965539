// info_nce_loss on CUDA, fused and plain, against the float64 oracle, the CPU op run in f64 on the
// values the GPU sees (inputs rounded to f32 or bf16, tau to f32), every output poisoned (NaN)
// before each run. Sizes and bounds:
// tests/support/info_nce_cases.h (at D = 3 and tau = 0.01 the plain path would miss 1e-2 in bf16, so the
// small-tau case uses D = 64). Plus the fused path's peak memory and its determinism. Without a
// GPU each case says it was skipped and why.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/allocator.h"
#include "engine/autograd.h"
#include "engine/device.h"
#include "engine/ops/info_nce.h"
#include "tests/support/harness.h"
#include "tests/support/info_nce_cases.h"

using namespace rsd;
using namespace rsd::test;

namespace {


struct Run {
  double loss;
  std::vector<double> da, db;
  double dtau;
};

// The autograd op with poisoned outputs and an upstream gradient g (of the loss's dtype: f32 on
// CUDA, f64 for the oracle).
Run run_op(const Tensor& a, const Tensor& b, const Tensor& tau, const NceConfig& c, Variant variant, double g) {
  for (const Tensor& t : {a, b, tau}) t.impl()->grad = Tensor();
  InfoNceOptions opt;
  opt.symmetric = c.symmetric;
  opt.variant = variant;
  set_poison_new_tensors(true);
  Tensor loss = info_nce_loss(a, b, tau, c.offset, opt);
  backward(loss, Tensor::full({1}, g, loss.dtype(), a.device()));
  set_poison_new_tensors(false);
  return {loss.item(), a.grad().to_host_doubles(), b.grad().to_host_doubles(), tau.grad().item()};
}

Tensor leaf(const std::vector<double>& v, const Shape& shape, DType dtype, Device device) {
  Tensor t = Tensor::from_vector(v, shape, dtype, device);
  t.set_requires_grad(true);
  return t;
}

Tensor leaf_on_gpu(const std::vector<double>& v, const Shape& shape, DType dtype) {
  return leaf(v, shape, dtype, Device::cuda(0));
}

// The oracle: the CPU op in f64 on the values of a, b and tau.
Run run_on_cpu_f64(const Tensor& a, const Tensor& b, const Tensor& tau, const NceConfig& c, double g) {
  const auto f64 = [](const Tensor& t) { return leaf(t.to_host_doubles(), t.shape(), DType::f64, Device::cpu()); };
  return run_op(f64(a), f64(b), f64(tau), c, Variant::fused, g);
}

double relative(double got, double want) {
  return std::isfinite(got) ? std::fabs(got - want) / std::max(std::fabs(want), 1e-12) : INFINITY;
}

// Both kernels in both dtypes on inputs av (n, d), bv (m, d).
void check_config(const NceConfig& c, const std::vector<double>& av, const std::vector<double>& bv) {
  const double g = 0.75;
  for (DType dtype : {DType::f32, DType::bf16}) {
    const Tensor a = leaf_on_gpu(av, {c.n, c.d}, dtype);
    const Tensor b = leaf_on_gpu(bv, {c.m, c.d}, dtype);
    const Tensor tau = leaf_on_gpu({c.tau}, {1}, DType::f32);
    const Run ref = run_on_cpu_f64(a, b, tau, c, g);
    const double bound = nce_bound(dtype == DType::f32, tau.item());
    for (Variant variant : {Variant::fused, Variant::plain}) {
      const std::string label = str_cat("N", c.n, " M", c.m, " offset ", c.offset, " D", c.d, " tau ", c.tau,
                                        c.symmetric ? " symmetric " : " row-only ", dtype_name(dtype), " ",
                                        variant_name(variant));
      CAPTURE(label);
      const Run got = run_op(a, b, tau, c, variant, g);
      INFO("loss " << got.loss << " reference " << ref.loss << "; dtau " << got.dtau << " reference " << ref.dtau);
      CHECK(relative(got.loss, ref.loss) <= bound);
      CHECK(relative(got.dtau, ref.dtau) <= bound);
      const double ea = relative_l2(ref.da, got.da), eb = relative_l2(ref.db, got.db);
      INFO("da relative L2 " << ea << ", db relative L2 " << eb);
      CHECK(ea <= bound);
      CHECK(eb <= bound);
    }
  }
}

std::vector<double> random_values(int64_t rows, int64_t d, uint64_t seed) {
  return random_tensor({rows, d}, DType::f64, Device::cpu(), seed).to_host_doubles();
}

}  // namespace

TEST_SUITE("losses") {
  TEST_CASE("info_nce_loss on CUDA (fused and plain, f32 and bf16) matches the float64 reference") {
    uint64_t seed = 9100;
    for (const NceConfig& c : nce_sizes()) {
      const std::vector<double> av = random_values(c.n, c.d, seed++);
      const std::vector<double> bv = random_values(c.m, c.d, seed++);
      check_config(c, av, bv);
    }
  }

  TEST_CASE("info_nce_loss on CUDA: zero vectors, duplicate rows, identical positive pairs") {
    for (const NceConfig& c : nce_special_sizes()) {
      std::vector<double> av = random_values(c.n, c.d, 31), bv = random_values(c.m, c.d, 32);
      make_special_rows(c, av, bv);
      check_config(c, av, bv);
    }
  }

  TEST_CASE("info_nce_loss on CUDA: the fused path's peak memory is O((N + M) D)") {
    const int64_t N = 8192, M = 8192, D = 128;
    for (DType dtype : {DType::f32, DType::bf16}) {
      CAPTURE(dtype_name(dtype));
      const Tensor a = leaf_on_gpu(random_values(N, D, 41), {N, D}, dtype);
      const Tensor b = leaf_on_gpu(random_values(M, D, 42), {M, D}, dtype);
      const Tensor tau = leaf_on_gpu({0.1}, {1}, DType::f32);
      synchronize(Device::cuda(0));
      CachingPool& pool = pool_for(Device::cuda(0));
      const int64_t before = pool.stats().bytes_in_use;
      pool.reset_peak();
      {
        Tensor loss = info_nce_loss(a, b, tau);
        backward(loss);
        synchronize(Device::cuda(0));
      }
      const int64_t peak = pool.stats().peak_bytes_in_use - before;
      const int64_t bound = 4 * (N + M) * D * 4 + (int64_t{1} << 20);
      INFO("peak " << peak << " bytes, bound " << bound << " (an N x M f32 matrix: " << N * M * 4 << ")");
      CHECK(peak < bound);
      for (const Tensor& t : {a, b, tau}) t.impl()->grad = Tensor();
    }
  }

  TEST_CASE("info_nce_loss on CUDA: the fused path is deterministic") {
    const NceConfig c{300, 2000, 500, 256, 0.1, true};
    const Tensor a = leaf_on_gpu(random_values(c.n, c.d, 51), {c.n, c.d}, DType::bf16);
    const Tensor b = leaf_on_gpu(random_values(c.m, c.d, 52), {c.m, c.d}, DType::bf16);
    const Tensor tau = leaf_on_gpu({c.tau}, {1}, DType::f32);
    const Run first = run_op(a, b, tau, c, Variant::fused, 1.0);
    const Run second = run_op(a, b, tau, c, Variant::fused, 1.0);
    CHECK(first.loss == second.loss);
    CHECK(first.dtau == second.dtau);
    CHECK(first.da == second.da);
    CHECK(first.db == second.db);
  }

  TEST_CASE("info_nce_loss on CUDA: N = M = 1 has exactly zero loss and gradients") {
    const NceConfig c{1, 1, 0, 37, 0.1, true};
    for (DType dtype : {DType::f32, DType::bf16})
      for (Variant variant : {Variant::fused, Variant::plain}) {
        CAPTURE(dtype_name(dtype));
        CAPTURE(variant_name(variant));
        const Tensor a = leaf_on_gpu(random_values(1, c.d, 61), {1, c.d}, dtype);
        const Tensor b = leaf_on_gpu(random_values(1, c.d, 62), {1, c.d}, dtype);
        const Tensor tau = leaf_on_gpu({c.tau}, {1}, DType::f32);
        const Run got = run_op(a, b, tau, c, variant, 1.0);
        CHECK(got.loss == 0.0);
        CHECK(got.dtau == 0.0);
        for (double v : got.da) CHECK(v == 0.0);
        for (double v : got.db) CHECK(v == 0.0);
      }
  }
}

TEST_SUITE("errors") {
  TEST_CASE("info_nce_loss on CUDA: tau must be f32, tensors on one device") {
    const Tensor a = Tensor::zeros({3, 4}, DType::bf16, Device::cuda(0));
    const Tensor b = Tensor::zeros({5, 4}, DType::bf16, Device::cuda(0));
    CHECK_THROWS_WITH_AS(info_nce_loss(a, b, Tensor::full({1}, 0.1, DType::bf16, Device::cuda(0))),
                         doctest::Contains("info_nce_loss"), Error);
    CHECK_THROWS_WITH_AS(info_nce_loss(a, b, Tensor::full({1}, 0.1, DType::f32)), doctest::Contains("bf16[3,4]@cuda:0"),
                         Error);
  }
}
