// Hand-computed values and bad uses of max_pool2d, global_avg_pool, l2_normalize and
// softmax_cross_entropy (batch norm: test_batchnorm.cpp).
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops/cross_entropy.h"
#include "engine/ops/l2norm.h"
#include "engine/ops/pool.h"
#include "tests/support/checks.h"

using namespace rsd;
using namespace rsd::test;

TEST_SUITE("ops") {
  TEST_CASE("max_pool2d with padding: padding never wins, gradient goes to the argmax") {
    // x: (1, 3, 3, 1) = -1 .. -9; k3 s2 p1 gives 2x2 windows over padded rows/columns -1..1, 1..3.
    // Zero padding would win every window; the maxima are -1, -2, -4, -5 at flat 0, 1, 3, 4.
    Tensor x = leaf({-1, -2, -3, -4, -5, -6, -7, -8, -9}, {1, 3, 3, 1});
    Tensor y = max_pool2d(x, 3, 2, 1);
    CHECK(y.shape() == Shape{1, 2, 2, 1});
    check_close(y.to_host_doubles(), {-1, -2, -4, -5});
    backward(y, Tensor::from_vector({10, 20, 30, 40}, {1, 2, 2, 1}, DType::f64));
    check_close(x.grad().to_host_doubles(), {10, 20, 0, 30, 40, 0, 0, 0, 0});
  }

  TEST_CASE("max_pool2d: ties go to the first element in window order; overlaps add up") {
    // x: (1, 2, 3, 1) of ones, k2 s1 p0: windows at columns 0-1 and 1-2 pick flat 0 and 1.
    Tensor x = leaf(std::vector<double>(6, 1.0), {1, 2, 3, 1});
    Tensor y = max_pool2d(x, 2, 1, 0);
    CHECK(y.shape() == Shape{1, 1, 2, 1});
    backward(y, Tensor::from_vector({1, 2}, {1, 1, 2, 1}, DType::f64));
    check_close(x.grad().to_host_doubles(), {1, 2, 0, 0, 0, 0});
    // x: (1, 1, 3, 1) = 0 5 0, k3 s1 p1: all three windows choose the 5.
    Tensor z = leaf({0, 5, 0}, {1, 1, 3, 1});
    Tensor w = max_pool2d(z, 3, 1, 1);
    check_close(w.to_host_doubles(), {5, 5, 5});
    backward(w, Tensor::from_vector({1, 2, 4}, {1, 1, 3, 1}, DType::f64));
    check_close(z.grad().to_host_doubles(), {0, 7, 0});
  }

  TEST_CASE("global_avg_pool averages each image's channels") {
    // x: (2, 1, 2, 2): image 0 channels (1, 3) and (2, 4); image 1 (5, 7) and (6, 8).
    Tensor x = leaf({1, 2, 3, 4, 5, 6, 7, 8}, {2, 1, 2, 2});
    Tensor y = global_avg_pool(x);
    CHECK(y.shape() == Shape{2, 2});
    check_close(y.to_host_doubles(), {2, 3, 6, 7});
    backward(y, Tensor::from_vector({2, 4, 6, 8}, {2, 2}, DType::f64));
    check_close(x.grad().to_host_doubles(), {1, 2, 1, 2, 3, 4, 3, 4});
  }

  TEST_CASE("l2_normalize: unit rows; a zero row gives zeros and a finite gradient") {
    Tensor x = leaf({3, 4, 0, 0}, {2, 2});
    const double eps = 1e-12;
    Tensor y = l2_normalize(x, eps);
    check_close(y.to_host_doubles(), {0.6, 0.8, 0, 0});
    backward(y, Tensor::from_vector({1, 0, 1, 2}, {2, 2}, DType::f64));
    // Row 0: (gy - y <gy, y>) / |x| = ((1, 0) - 0.6 (0.6, 0.8)) / 5. Row 1: gy / eps.
    const std::vector<double> g = x.grad().to_host_doubles();
    check_close(g, {0.64 / 5, -0.48 / 5, 1 / eps, 2 / eps});
    for (double v : g) CHECK(std::isfinite(v));
  }

  TEST_CASE("softmax_cross_entropy of a tiny batch by hand") {
    // Row 0: logits (0, 0), label 0: loss ln 2, softmax (1/2, 1/2).
    // Row 1: logits (ln 3, 0), label 1: softmax (3/4, 1/4), loss ln 4.
    Tensor logits = leaf({0, 0, std::log(3.0), 0}, {2, 2});
    Tensor labels = Tensor::from_ints({0, 1}, {2});
    Tensor loss = softmax_cross_entropy(logits, labels);
    CHECK(loss.shape() == Shape{1});
    CHECK(loss.dtype() == DType::f64);
    CHECK(loss.item() == doctest::Approx(1.5 * std::log(2.0)).epsilon(1e-12));
    CHECK(tape().op_names() == std::vector<std::string>{"softmax_cross_entropy"});
    backward(loss);  // (softmax - onehot) / N
    check_close(logits.grad().to_host_doubles(), {-0.25, 0.25, 0.375, -0.375});
  }

  TEST_CASE("softmax_cross_entropy stays finite for large logits") {
    Tensor logits = Tensor::from_vector({1000, 0, -1000}, {1, 3}, DType::f32);
    CHECK(softmax_cross_entropy(logits, Tensor::from_ints({1}, {1})).item() == doctest::Approx(1000.0));
  }

  TEST_CASE("max_pool2d and global_avg_pool: wrong ndim, bad window") {
    Tensor flat = Tensor::zeros({4, 4, 3}, DType::f32);
    check_error([&] { max_pool2d(flat, 3, 2, 1); }, {"max_pool2d", "f32[4,4,3]@cpu"});
    check_error([&] { global_avg_pool(flat); }, {"global_avg_pool", "f32[4,4,3]@cpu"});
    Tensor x = Tensor::zeros({1, 4, 4, 3}, DType::f32);
    check_error([&] { max_pool2d(x, 3, 2, 2); }, {"max_pool2d", "f32[1,4,4,3]@cpu"});  // padding > kernel / 2
    check_error([&] { max_pool2d(x, 7, 1, 1); }, {"max_pool2d", "f32[1,4,4,3]@cpu"});  // window larger than x
    check_error([&] { max_pool2d(x, 3, 0, 1); }, {"max_pool2d", "f32[1,4,4,3]@cpu"});
  }

  TEST_CASE("l2_normalize: wrong ndim") {
    Tensor x = Tensor::zeros({2, 3, 4}, DType::f32);
    check_error([&] { l2_normalize(x); }, {"l2_normalize", "f32[2,3,4]@cpu"});
  }

  TEST_CASE("softmax_cross_entropy: labels out of range, wrong dtype or length, wrong ndim") {
    Tensor logits = Tensor::zeros({3, 4}, DType::f32);
    check_error([&] { softmax_cross_entropy(logits, Tensor::from_ints({0, 4, 1}, {3})); }, {"softmax_cross_entropy", "f32[3,4]@cpu"});
    CHECK_THROWS_WITH_AS(softmax_cross_entropy(logits, Tensor::from_ints({0, -1, 1}, {3})),
                         doctest::Contains("out of range"), Error);
    Tensor float_labels = Tensor::zeros({3}, DType::f32);
    check_error([&] { softmax_cross_entropy(logits, float_labels); }, {"softmax_cross_entropy", "f32[3]@cpu"});
    check_error([&] { softmax_cross_entropy(logits, Tensor::from_ints({0, 1}, {2})); }, {"softmax_cross_entropy", "i32[2]@cpu"});
    Tensor logits3 = Tensor::zeros({3, 4, 1}, DType::f32);
    check_error([&] { softmax_cross_entropy(logits3, Tensor::from_ints({0, 1, 2}, {3})); }, {"softmax_cross_entropy", "f32[3,4,1]@cpu"});
  }
}
