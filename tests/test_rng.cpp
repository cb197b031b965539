#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "engine/rng.h"
#include "kernels/philox.h"
#include "tests/support/runner.h"

using namespace rsd;

TEST_SUITE("rng") {
  TEST_CASE("Philox4x32-10 matches the Random123 known-answer vectors") {
    using kernels::Philox4;
    auto run = [](Philox4 c, uint32_t k0, uint32_t k1) { return kernels::philox4x32_10(c, k0, k1); };
    const Philox4 zero = run({{0, 0, 0, 0}}, 0, 0);
    CHECK(zero.v[0] == 0x6627e8d5u);
    CHECK(zero.v[1] == 0xe169c58du);
    CHECK(zero.v[2] == 0xbc57ac4cu);
    CHECK(zero.v[3] == 0x9b00dbd8u);
    const Philox4 ones = run({{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}}, 0xffffffffu, 0xffffffffu);
    CHECK(ones.v[0] == 0x408f276du);
    CHECK(ones.v[3] == 0x6d5451fdu);
    const Philox4 pi = run({{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}}, 0xa4093822u, 0x299f31d0u);
    CHECK(pi.v[0] == 0xd16cfe09u);
    CHECK(pi.v[1] == 0x94fdccebu);
    CHECK(pi.v[2] == 0x5001e420u);
    CHECK(pi.v[3] == 0x24126ea1u);
  }

  TEST_CASE("uniform and normal fills have the right moments and are reproducible") {
    Tensor u = Tensor::empty({100000}, DType::f32);
    Tensor n = Tensor::empty({100000}, DType::f64);
    fill_uniform_(u, 42, 0, -2.0, 3.0);
    fill_normal_(n, 42, 0, 1.0, 2.0);
    const std::vector<double> uv = u.to_host_doubles(), nv = n.to_host_doubles();
    double us = 0, ns = 0, nss = 0, lo = 1e9, hi = -1e9;
    for (double v : uv) {
      us += v;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    for (double v : nv) {
      ns += v;
      nss += v * v;
    }
    const double count = 100000.0;
    CHECK(lo >= -2.0);
    CHECK(hi < 3.0);
    CHECK(us / count == doctest::Approx(0.5).epsilon(0.02));
    CHECK(ns / count == doctest::Approx(1.0).epsilon(0.02));
    CHECK(std::sqrt(nss / count - (ns / count) * (ns / count)) == doctest::Approx(2.0).epsilon(0.02));
    Tensor again = Tensor::empty({100000}, DType::f32);
    fill_uniform_(again, 42, 0, -2.0, 3.0);
    CHECK(again.to_host_doubles() == uv);
  }

  TEST_CASE("element i depends only on (seed, offset, i)") {
    Tensor whole = Tensor::empty({12}, DType::f32);
    fill_normal_(whole, 7, 5, 0.0, 1.0);
    Tensor tail = Tensor::empty({4}, DType::f32);
    fill_normal_(tail, 7, 7, 0.0, 1.0);  // offset counts blocks of four: elements 8..11
    const std::vector<double> w = whole.to_host_doubles(), t = tail.to_host_doubles();
    for (int i = 0; i < 4; ++i) CHECK(t[i] == w[8 + i]);
  }

  TEST_CASE("a generator never reuses a stream") {
    Generator gen(3);
    Tensor a = Tensor::empty({5}, DType::f32), b = Tensor::empty({5}, DType::f32);
    gen.uniform_(a, 0, 1);
    gen.uniform_(b, 0, 1);
    CHECK(gen.offset() == 4);  // two fills of 5 elements: 2 blocks each
    CHECK(a.to_host_doubles() != b.to_host_doubles());
  }
}

// Philox on both backends: uniform fills bit-identical, normal fills to the last ulp of libm.
TEST_SUITE("rng" * rsd::test::on_gpu()) {
  TEST_CASE("Philox fills are the same on the CPU and the GPU") {
    for (int64_t n : {1, 7, 1000003}) {
      CAPTURE(n);
      Tensor cpu_u = Tensor::empty({n}, DType::f32), gpu_u = Tensor::empty({n}, DType::f32, Device::cuda(0));
      fill_uniform_(cpu_u, 99, 5, -1.0, 3.0);
      fill_uniform_(gpu_u, 99, 5, -1.0, 3.0);
      CHECK(cpu_u.to_host_doubles() == gpu_u.to_host_doubles());  // bit-identical
      Tensor cpu_n = Tensor::empty({n}, DType::f32), gpu_n = Tensor::empty({n}, DType::f32, Device::cuda(0));
      fill_normal_(cpu_n, 99, 5, 0.5, 2.0);
      fill_normal_(gpu_n, 99, 5, 0.5, 2.0);
      const std::vector<double> a = cpu_n.to_host_doubles(), b = gpu_n.to_host_doubles();
      double worst = 0.0;  // device and host libm may differ in the last ulp of the double Box-Muller
      for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]) / std::max(1.0, std::fabs(a[i])));
      CHECK(worst <= 1e-6);
    }
  }
}
