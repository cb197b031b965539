// Hand-computed values and bad uses of batch_norm2d/1d, max_pool2d, global_avg_pool,
// l2_normalize and softmax_cross_entropy.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops/batchnorm.h"
#include "engine/ops/cross_entropy.h"
#include "engine/ops/l2norm.h"
#include "engine/ops/pool.h"

using namespace rsd;

namespace {

Tensor leaf(const std::vector<double>& v, const Shape& shape, DType dtype = DType::f64) {
  Tensor t = Tensor::from_vector(v, shape, dtype);
  t.set_requires_grad(true);
  return t;
}

void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol = 1e-9) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i] == doctest::Approx(want[i]).epsilon(tol));
  }
}

// f() must throw rsd::Error whose message names the op and contains `shape` (a describe() string).
template <typename F>
void check_error(F&& f, const std::string& op, const std::string& shape) {
  try {
    f();
    FAIL("no rsd::Error thrown; expected one naming " << op << " and " << shape);
  } catch (const Error& e) {
    const std::string message = e.what();
    INFO(message);
    CHECK(message.find(op) != std::string::npos);
    CHECK(message.find(shape) != std::string::npos);
  }
  tape().clear();
}

}  // namespace

TEST_SUITE("ops") {
  TEST_CASE("batch_norm1d training: batch statistics normalize, running statistics follow PyTorch") {
    // Channel 0: 1 3 5 7, mean 4, biased variance 5, unbiased 20/3.
    // Channel 1: 2 4 0 2, mean 2, biased variance 2, unbiased 8/3.
    Tensor x = leaf({1, 2, 3, 4, 5, 0, 7, 2}, {4, 2});
    Tensor gamma = leaf({1, 1}, {2});
    Tensor beta = leaf({0, 0}, {2});
    Tensor running_mean = Tensor::from_vector({0, 0}, {2}, DType::f64);
    Tensor running_var = Tensor::from_vector({1, 1}, {2}, DType::f64);
    const double eps = 1e-5;
    Tensor y = batch_norm1d(x, gamma, beta, running_mean, running_var, true, 0.1, eps);
    CHECK(tape().op_names() == std::vector<std::string>{"batch_norm1d"});
    const double s0 = std::sqrt(5 + eps), s1 = std::sqrt(2 + eps);
    check_close(y.to_host_doubles(), {-3 / s0, 0 / s1, -1 / s0, 2 / s1, 1 / s0, -2 / s1, 3 / s0, 0 / s1});
    check_close(running_mean.to_host_doubles(), {0.4, 0.2});
    check_close(running_var.to_host_doubles(), {0.9 + 0.1 * 20.0 / 3.0, 0.9 + 0.1 * 8.0 / 3.0});
    // d(sum y)/dx = 0 (each channel's outputs sum to zero whatever x); dbeta = M; dgamma = sum xhat = 0.
    backward(y, Tensor::full({4, 2}, 1.0, DType::f64));
    for (double g : x.grad().to_host_doubles()) CHECK(g == doctest::Approx(0.0).epsilon(1e-12));
    check_close(beta.grad().to_host_doubles(), {4, 4});
    for (double g : gamma.grad().to_host_doubles()) CHECK(g == doctest::Approx(0.0).epsilon(1e-12));
  }

  TEST_CASE("batch_norm2d eval: running statistics normalize, stay unchanged, affine backward") {
    // x: (1, 1, 1, 2), one pixel: eval mode accepts a single value per channel.
    Tensor x = leaf({3, 0}, {1, 1, 1, 2});
    Tensor gamma = leaf({2, 1}, {2});
    Tensor beta = leaf({0.5, 0}, {2});
    Tensor running_mean = Tensor::from_vector({1, -1}, {2}, DType::f64);
    Tensor running_var = Tensor::from_vector({4, 0.25}, {2}, DType::f64);
    const double eps = 1e-5;
    Tensor y = batch_norm2d(x, gamma, beta, running_mean, running_var, false, 0.1, eps);
    CHECK(tape().op_names() == std::vector<std::string>{"batch_norm2d"});
    const double i0 = 1 / std::sqrt(4 + eps), i1 = 1 / std::sqrt(0.25 + eps);
    check_close(y.to_host_doubles(), {2 * i0 * 2 + 0.5, 1 * i1});
    check_close(running_mean.to_host_doubles(), {1, -1});
    check_close(running_var.to_host_doubles(), {4, 0.25});
    backward(y, Tensor::from_vector({1, 3}, {1, 1, 1, 2}, DType::f64));
    check_close(x.grad().to_host_doubles(), {1 * 2 * i0, 3 * 1 * i1});   // gy * gamma * invstd
    check_close(gamma.grad().to_host_doubles(), {1 * 2 * i0, 3 * 1 * i1});  // gy * xhat
    check_close(beta.grad().to_host_doubles(), {1, 3});
  }

  TEST_CASE("batch_norm in f32 on the CPU keeps f32 statistics") {
    Tensor x = leaf({0, 1, 2, 3}, {2, 2}, DType::f32);
    Tensor gamma = Tensor::full({2}, 1.0, DType::f32), beta = Tensor::zeros({2}, DType::f32);
    Tensor running_mean = Tensor::zeros({2}, DType::f32), running_var = Tensor::full({2}, 1.0, DType::f32);
    Tensor y = batch_norm1d(x, gamma, beta, running_mean, running_var, true);
    CHECK(y.dtype() == DType::f32);
    check_close(running_mean.to_host_doubles(), {0.1, 0.2}, 1e-6);
    check_close(running_var.to_host_doubles(), {0.9 + 0.1 * 2, 0.9 + 0.1 * 2}, 1e-6);
    tape().clear();
  }

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
}

TEST_SUITE("errors") {
  TEST_CASE("batch_norm: wrong ndim, channel or dtype mismatches, one value per channel in training") {
    Tensor x = Tensor::zeros({2, 3, 5, 7}, DType::f32);
    Tensor c7 = Tensor::zeros({7}, DType::f32);
    Tensor rm = Tensor::zeros({7}, DType::f32), rv = Tensor::full({7}, 1.0, DType::f32);
    Tensor flat = Tensor::zeros({3, 5}, DType::f32);
    check_error([&] { batch_norm2d(flat, c7, c7, rm, rv, true); }, "batch_norm2d", "f32[3,5]@cpu");
    check_error([&] { batch_norm1d(x, c7, c7, rm, rv, true); }, "batch_norm1d", "f32[2,3,5,7]@cpu");
    Tensor c5 = Tensor::zeros({5}, DType::f32);
    check_error([&] { batch_norm2d(x, c5, c7, rm, rv, true); }, "batch_norm2d", "f32[5]@cpu");
    Tensor rm5 = Tensor::zeros({5}, DType::f32);
    check_error([&] { batch_norm2d(x, c7, c7, rm5, rv, false); }, "batch_norm2d", "f32[5]@cpu");
    Tensor c7d = Tensor::zeros({7}, DType::f64);
    check_error([&] { batch_norm2d(x, c7d, c7, rm, rv, true); }, "batch_norm2d", "f64[7]@cpu");
    Tensor one = Tensor::zeros({1, 1, 1, 7}, DType::f32);
    check_error([&] { batch_norm2d(one, c7, c7, rm, rv, true); }, "batch_norm2d", "f32[1,1,1,7]@cpu");
    CHECK_THROWS_WITH_AS(batch_norm2d(one, c7, c7, rm, rv, true), doctest::Contains("more than 1 value per channel"),
                         Error);
    Tensor one_row = Tensor::zeros({1, 7}, DType::f32);
    check_error([&] { batch_norm1d(one_row, c7, c7, rm, rv, true); }, "batch_norm1d", "f32[1,7]@cpu");
    CHECK_NOTHROW(batch_norm1d(one_row, c7, c7, rm, rv, false));
  }

  TEST_CASE("max_pool2d and global_avg_pool: wrong ndim, bad window") {
    Tensor flat = Tensor::zeros({4, 4, 3}, DType::f32);
    check_error([&] { max_pool2d(flat, 3, 2, 1); }, "max_pool2d", "f32[4,4,3]@cpu");
    check_error([&] { global_avg_pool(flat); }, "global_avg_pool", "f32[4,4,3]@cpu");
    Tensor x = Tensor::zeros({1, 4, 4, 3}, DType::f32);
    check_error([&] { max_pool2d(x, 3, 2, 2); }, "max_pool2d", "f32[1,4,4,3]@cpu");  // padding > kernel / 2
    check_error([&] { max_pool2d(x, 7, 1, 1); }, "max_pool2d", "f32[1,4,4,3]@cpu");  // window larger than x
    check_error([&] { max_pool2d(x, 3, 0, 1); }, "max_pool2d", "f32[1,4,4,3]@cpu");
  }

  TEST_CASE("l2_normalize: wrong ndim") {
    Tensor x = Tensor::zeros({2, 3, 4}, DType::f32);
    check_error([&] { l2_normalize(x); }, "l2_normalize", "f32[2,3,4]@cpu");
  }

  TEST_CASE("softmax_cross_entropy: labels out of range, wrong dtype or length, wrong ndim") {
    Tensor logits = Tensor::zeros({3, 4}, DType::f32);
    check_error([&] { softmax_cross_entropy(logits, Tensor::from_ints({0, 4, 1}, {3})); }, "softmax_cross_entropy",
                "f32[3,4]@cpu");
    CHECK_THROWS_WITH_AS(softmax_cross_entropy(logits, Tensor::from_ints({0, -1, 1}, {3})),
                         doctest::Contains("out of range"), Error);
    Tensor float_labels = Tensor::zeros({3}, DType::f32);
    check_error([&] { softmax_cross_entropy(logits, float_labels); }, "softmax_cross_entropy", "f32[3]@cpu");
    check_error([&] { softmax_cross_entropy(logits, Tensor::from_ints({0, 1}, {2})); }, "softmax_cross_entropy",
                "i32[2]@cpu");
    Tensor logits3 = Tensor::zeros({3, 4, 1}, DType::f32);
    check_error([&] { softmax_cross_entropy(logits3, Tensor::from_ints({0, 1, 2}, {3})); }, "softmax_cross_entropy",
                "f32[3,4,1]@cpu");
  }
}
