#include <doctest/doctest.h>

#include <cmath>

#include "engine/copy.h"
#include "engine/tensor.h"
#include "tests/support/runner.h"

using namespace rsd;

TEST_SUITE("tensor") {
  TEST_CASE("shape, dtype, device and describe") {
    Tensor t = Tensor::zeros({2, 3, 4}, DType::f32);
    CHECK(t.ndim() == 3);
    CHECK(t.numel() == 24);
    CHECK(t.nbytes() == 96);
    CHECK(t.dim(-1) == 4);
    CHECK(t.describe() == "f32[2,3,4]@cpu");
    CHECK_THROWS_AS(t.dim(3), Error);
    for (double v : t.to_host_doubles()) CHECK(v == 0.0);
  }

  TEST_CASE("from_vector round trips through every dtype") {
    const std::vector<double> v = {0.0, 1.0, -2.5, 3.0, 100.0, 7.0};
    for (DType d : {DType::f32, DType::f64, DType::bf16, DType::f16}) {
      CAPTURE(dtype_name(d));
      CHECK(Tensor::from_vector(v, {2, 3}, d).to_host_doubles() == v);  // all exactly representable
    }
    const std::vector<double> ints = {0, 1, 2, 200, 7, 9};
    CHECK(Tensor::from_vector(ints, {6}, DType::i32).to_host_doubles() == ints);
    CHECK(Tensor::from_vector(ints, {6}, DType::u8).to_host_doubles() == ints);
    CHECK_THROWS_AS(Tensor::from_vector(v, {4}, DType::f32), Error);
  }

  TEST_CASE("bf16 and f16 conversions round to nearest even") {
    CHECK(bf16_bits_to_float(float_to_bf16_bits(1.0f)) == 1.0f);
    // 1 + 2^-8 lies halfway between bf16 neighbours 1 and 1 + 2^-7: ties to even (1).
    CHECK(bf16_bits_to_float(float_to_bf16_bits(1.0f + 1.0f / 256)) == 1.0f);
    CHECK(bf16_bits_to_float(float_to_bf16_bits(1.0f + 3.0f / 256)) == 1.0f + 4.0f / 256);
    CHECK(std::isnan(bf16_bits_to_float(float_to_bf16_bits(NAN))));
    CHECK(f16_bits_to_float(float_to_f16_bits(65504.0f)) == 65504.0f);
    CHECK(std::isinf(f16_bits_to_float(float_to_f16_bits(70000.0f))));
    CHECK(f16_bits_to_float(float_to_f16_bits(5.9604644775390625e-8f)) == 5.9604644775390625e-8f);  // smallest subnormal
    CHECK(f16_bits_to_float(float_to_f16_bits(1.0f + 1.0f / 2048)) == 1.0f);  // tie to even
    CHECK(f16_bits_to_float(float_to_f16_bits(-0.333251953125f)) == -0.333251953125f);
  }

  TEST_CASE("views share storage") {
    Tensor t = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3}, DType::f32);
    Tensor v = t.view({3, 2});
    v.data<float>()[5] = 42.0f;
    CHECK(t.data<float>()[5] == 42.0f);
    CHECK_THROWS_AS(t.view({4}), Error);
  }

  TEST_CASE("typed access checks the dtype") {
    Tensor t = Tensor::zeros({3}, DType::f64);
    CHECK_THROWS_WITH_AS(t.data<float>(), doctest::Contains("f64[3]@cpu"), Error);
  }

  TEST_CASE("copy converts across dtypes; fill writes every element") {
    Tensor a = Tensor::from_vector({1.5, -2.0, 3.25}, {3}, DType::f64);
    Tensor b = Tensor::empty({3}, DType::f32);
    b.copy_from(a);
    CHECK(b.to_host_doubles() == std::vector<double>{1.5, -2.0, 3.25});
    fill_(b, 7.0);
    CHECK(b.to_host_doubles() == std::vector<double>{7, 7, 7});
    CHECK(Tensor::full({2}, 3.0, DType::i32).to_host_doubles() == std::vector<double>{3, 3});
  }

  TEST_CASE("poisoned new tensors are NaN until written") {
    set_poison_new_tensors(true);
    Tensor t = Tensor::empty({4}, DType::f32);
    Tensor i = Tensor::empty({2}, DType::i32);
    set_poison_new_tensors(false);
    for (double v : t.to_host_doubles()) CHECK(std::isnan(v));
    for (double v : i.to_host_doubles()) CHECK(v == -1.0);
  }

  TEST_CASE("zero-size tensors are legal") {
    Tensor t = Tensor::empty({0, 5}, DType::f32);
    CHECK(t.numel() == 0);
    CHECK(t.to_host_doubles().empty());
    CHECK_THROWS_AS(Tensor::empty({-1}, DType::f32), Error);
  }
}

// Fills on CUDA store what the CPU's fill stores, in every dtype: the double converted once, as
// the CPU does (0.1 as f64 is 0.1, not the float nearest 0.1; 2^24 + 1 as i32 is not rounded to
// 2^24), including through fill_ and Tensor::full.
TEST_SUITE("tensor" * rsd::test::on_gpu()) {
  TEST_CASE("fill on CUDA equals the CPU's fill in every dtype") {
    const Device gpu = Device::cuda(0);
    for (const DType d : {DType::f32, DType::f64, DType::bf16, DType::f16, DType::i32, DType::u8}) {
      CAPTURE(dtype_name(d));
      for (const double v : {0.1, -2.7, 1e-40, 16777217.0, 1.0 / 3.0, -0.0, 200.0}) {
        if (d == DType::u8 && (v < 0.0 || v >= 256.0)) continue;  // the CPU's cast is defined in [0, 256)
        CAPTURE(v);
        for (const int64_t n : {int64_t{1}, int64_t{1000003}}) {
          Tensor t = Tensor::empty({n}, d, gpu);
          fill_(t, v);
          CHECK(t.to_host_doubles() == Tensor::full({n}, v, d).to_host_doubles());
        }
      }
    }
    CHECK(Tensor::full({3}, 0.1, DType::f64, gpu).to_host_doubles() == std::vector<double>{0.1, 0.1, 0.1});
  }
}
