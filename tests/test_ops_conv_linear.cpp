// conv2d, linear and the CPU GEMM under them: hand-computed values, the BLAS path against the
// plain loop, a direct (loop) convolution against im2col + GEMM, and the argument errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/cpu/gemm.h"
#include "engine/op.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/conv2d_inference.h"
#include "engine/ops/convert.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/linear.h"
#include "tests/support/harness.h"

using namespace rsd;

namespace {

// Runs a GEMM through cpu::gemm and cpu::gemm_reference on the same random operands, with padded
// leading dimensions, and returns the normalized squared difference (nmse).
template <typename T>
double gemm_paths_difference(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, T beta, uint64_t seed) {
  const int64_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 1;
  const std::vector<double> a = test::random_tensor({(ta ? k : m) * lda}, DType::f64, Device::cpu(), seed).to_host_doubles();
  const std::vector<double> b = test::random_tensor({(tb ? n : k) * ldb}, DType::f64, Device::cpu(), seed + 1).to_host_doubles();
  const std::vector<double> c0 = test::random_tensor({m * ldc}, DType::f64, Device::cpu(), seed + 2).to_host_doubles();
  const std::vector<T> at(a.begin(), a.end()), bt(b.begin(), b.end());
  std::vector<T> c_fast(c0.begin(), c0.end()), c_ref(c0.begin(), c0.end());
  cpu::gemm<T>(ta, tb, m, n, k, alpha, at.data(), lda, bt.data(), ldb, beta, c_fast.data(), ldc);
  cpu::gemm_reference<T>(ta, tb, m, n, k, alpha, at.data(), lda, bt.data(), ldb, beta, c_ref.data(), ldc);
  return test::nmse(std::vector<double>(c_ref.begin(), c_ref.end()), std::vector<double>(c_fast.begin(), c_fast.end()));
}

// y[n,p,q,k] straight from the definition, for comparison with im2col + GEMM.
std::vector<double> direct_conv2d(const Tensor& x, const Tensor& w, int stride, int padding) {
  const std::vector<double> xv = x.to_host_doubles(), wv = w.to_host_doubles();
  const int64_t N = x.dim(0), H = x.dim(1), W = x.dim(2), C = x.dim(3), K = w.dim(0), R = w.dim(1), S = w.dim(2);
  const int64_t P = conv2d_output_size(H, R, stride, padding), Q = conv2d_output_size(W, S, stride, padding);
  std::vector<double> y;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t p = 0; p < P; ++p)
      for (int64_t q = 0; q < Q; ++q)
        for (int64_t k = 0; k < K; ++k) {
          double acc = 0.0;
          for (int64_t r = 0; r < R; ++r)
            for (int64_t s = 0; s < S; ++s)
              for (int64_t c = 0; c < C; ++c) {
                const int64_t h = p * stride - padding + r, wi = q * stride - padding + s;
                if (h < 0 || h >= H || wi < 0 || wi >= W) continue;
                acc += xv[((n * H + h) * W + wi) * C + c] * wv[((k * R + r) * S + s) * C + c];
              }
          y.push_back(acc);
        }
  return y;
}

template <typename F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_SUITE("ops") {
  TEST_CASE("cpu gemm (BLAS when built with it) matches the plain loop: all transposes, odd sizes") {
    MESSAGE("cpu::gemm uses BLAS: " << cpu::gemm_uses_blas());
    const int64_t sizes[][3] = {{1, 1, 1}, {3, 7, 5}, {33, 17, 130}, {65, 3, 1}, {2, 129, 31}};
    uint64_t seed = 11;
    for (const auto& s : sizes) {
      for (int t = 0; t < 4; ++t) {
        const bool ta = t & 1, tb = t & 2;
        CAPTURE(s[0]);
        CAPTURE(s[1]);
        CAPTURE(s[2]);
        CAPTURE(ta);
        CAPTURE(tb);
        // The two paths differ only in summation order: f64 and f32 rounding.
        CHECK(gemm_paths_difference<double>(ta, tb, s[0], s[1], s[2], 1.0, 0.0, seed) < 1e-26);
        CHECK(gemm_paths_difference<double>(ta, tb, s[0], s[1], s[2], -0.5, 1.5, seed + 3) < 1e-26);
        CHECK(gemm_paths_difference<float>(ta, tb, s[0], s[1], s[2], 2.0f, 0.25f, seed + 5) < 1e-11);
        seed += 7;
      }
    }
  }

  TEST_CASE("cpu gemm: hand example, and beta = 0 ignores NaN already in C") {
    // A (2,3) [1 2 3; 4 5 6], B (3,2) [1 0; 0 1; 1 1]: A B = [4 5; 10 11].
    const float a[] = {1, 2, 3, 4, 5, 6}, b[] = {1, 0, 0, 1, 1, 1};
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (bool reference : {false, true}) {
      float c[] = {nan, nan, nan, nan};
      if (reference) {
        cpu::gemm_reference<float>(false, false, 2, 2, 3, 1.0f, a, 3, b, 2, 0.0f, c, 2);
      } else {
        cpu::gemm<float>(false, false, 2, 2, 3, 1.0f, a, 3, b, 2, 0.0f, c, 2);
      }
      CHECK(c[0] == 4.0f);
      CHECK(c[1] == 5.0f);
      CHECK(c[2] == 10.0f);
      CHECK(c[3] == 11.0f);
    }
    // K = 0: C = beta C.
    float c[] = {1, 2};
    cpu::gemm<float>(false, false, 1, 2, 0, 1.0f, a, 1, b, 2, 3.0f, c, 2);
    CHECK(c[0] == 3.0f);
    CHECK(c[1] == 6.0f);
  }

  // What conv2d and linear ask of the BLAS: beta = 0 onto uninitialized (here NaN) output, padded
  // leading dimensions whose padding must stay untouched, sizes that reach the blocked kernels.
  // Run under every OpenBLAS kernel the CPU supports by the blas_* ctest entries.
  TEST_CASE("cpu gemm: beta = 0 over a NaN-poisoned C with padded rows, blocked sizes, every transpose") {
    MESSAGE("cpu::gemm: " << cpu::gemm_library());
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const int64_t sizes[][3] = {{67, 45, 130}, {256, 16, 72}, {9, 300, 7}};
    uint64_t seed = 91;
    for (const auto& sz : sizes) {
      const int64_t m = sz[0], n = sz[1], k = sz[2];
      for (int t = 0; t < 4; ++t) {
        const bool ta = t & 1, tb = t & 2;
        CAPTURE(m);
        CAPTURE(n);
        CAPTURE(k);
        CAPTURE(ta);
        CAPTURE(tb);
        const int64_t lda = (ta ? m : k) + 5, ldb = (tb ? k : n) + 4, ldc = n + 3;
        const std::vector<double> a = test::random_tensor({(ta ? k : m) * lda}, DType::f64, Device::cpu(), seed).to_host_doubles();
        const std::vector<double> b = test::random_tensor({(tb ? n : k) * ldb}, DType::f64, Device::cpu(), seed + 1).to_host_doubles();
        const std::vector<float> af(a.begin(), a.end()), bf(b.begin(), b.end());
        std::vector<float> c(static_cast<size_t>(m * ldc), nan);
        cpu::gemm<float>(ta, tb, m, n, k, 1.0f, af.data(), lda, bf.data(), ldb, 0.0f, c.data(), ldc);
        double worst = 0.0;
        bool padding_kept = true;
        for (int64_t i = 0; i < m; ++i) {
          for (int64_t j = 0; j < n; ++j) {
            double exact = 0.0;
            for (int64_t p = 0; p < k; ++p)
              exact += static_cast<double>(af[ta ? p * lda + i : i * lda + p]) * static_cast<double>(bf[tb ? j * ldb + p : p * ldb + j]);
            worst = std::max(worst, std::fabs(static_cast<double>(c[i * ldc + j]) - exact) / (1.0 + std::fabs(exact)));
          }
          for (int64_t j = n; j < ldc; ++j) padding_kept = padding_kept && std::isnan(c[i * ldc + j]);
        }
        CHECK(worst < 1e-5);  // NaN fails too: every element written, none read
        CHECK(padding_kept);
        seed += 5;
      }
    }
  }

  // The blas_<kernel> ctest entries force a kernel through OPENBLAS_CORETYPE: make sure it took.
  TEST_CASE("cpu gemm: the OpenBLAS kernel is the one OPENBLAS_CORETYPE asks for") {
    const char* wanted = std::getenv("OPENBLAS_CORETYPE");
    const std::string kernel = cpu::blas_kernel_name();
    MESSAGE("cpu::gemm: " << cpu::gemm_library());
    if (wanted == nullptr || kernel.empty()) return;
    std::string a = wanted, b = kernel;
    for (char& ch : a) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    for (char& ch : b) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    CHECK(a == b);
  }

  TEST_CASE("conv2d: hand-computed 3x3 input, 2x2 kernel, values and gradients") {
    // x (1,3,3,1) = [1 2 3; 4 5 6; 7 8 9], w (1,2,2,1) = [1 2; 3 4].
    Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 3, 3, 1}, DType::f64);
    Tensor w = Tensor::from_vector({1, 2, 3, 4}, {1, 2, 2, 1}, DType::f64);
    x.set_requires_grad(true);
    w.set_requires_grad(true);
    Tensor y = conv2d(x, w, 1, 0);
    CHECK(y.shape() == Shape{1, 2, 2, 1});
    // y[0,0] = 1*1 + 2*2 + 4*3 + 5*4 = 37, and so on by one pixel.
    CHECK(y.to_host_doubles() == std::vector<double>{37, 47, 67, 77});
    backward(y, Tensor::full({1, 2, 2, 1}, 1.0, DType::f64));
    // dw[r,s] = sum of the 2x2 window of x at offset (r,s); dx[h,w] = sum of the taps covering it.
    CHECK(w.grad().to_host_doubles() == std::vector<double>{12, 16, 24, 28});
    CHECK(x.grad().to_host_doubles() == std::vector<double>{1, 3, 2, 4, 10, 6, 3, 7, 4});

    // Padding 1, stride 2: the windows start at -1 and 1, the corners see the padding.
    Tensor y2 = conv2d(x.view({1, 3, 3, 1}), w.view({1, 2, 2, 1}), 2, 1);
    CHECK(y2.shape() == Shape{1, 2, 2, 1});
    CHECK(y2.to_host_doubles() == std::vector<double>{4, 18, 36, 77});
  }

  TEST_CASE("conv2d: 1x1 convolution is a per-pixel matrix product over channels") {
    // x (1,1,2,2): pixels [1 2] and [3 4]; w (3,1,1,2): rows [1 0], [0 1], [1 -1].
    Tensor x = Tensor::from_vector({1, 2, 3, 4}, {1, 1, 2, 2}, DType::f32);
    Tensor w = Tensor::from_vector({1, 0, 0, 1, 1, -1}, {3, 1, 1, 2}, DType::f32);
    CHECK(conv2d(x, w).to_host_doubles() == std::vector<double>{1, 2, -1, 3, 4, -1});
  }

  TEST_CASE("conv2d: im2col + GEMM matches the direct definition (multi-channel, strided, padded)") {
    struct G {
      Shape x, w;
      int stride, padding;
    };
    for (const G& g : {G{{2, 7, 6, 3}, {4, 3, 3, 3}, 2, 1}, G{{1, 5, 9, 2}, {3, 3, 2, 2}, 1, 2},
                       G{{3, 11, 11, 3}, {8, 7, 7, 3}, 2, 3}}) {
      CAPTURE(shape_str(g.x));
      const Tensor x = test::random_tensor(g.x, DType::f64, Device::cpu(), 3);
      const Tensor w = test::random_tensor(g.w, DType::f64, Device::cpu(), 4);
      CHECK(test::max_relative_error(direct_conv2d(x, w, g.stride, g.padding),
                                     conv2d(x, w, g.stride, g.padding).to_host_doubles()) < 1e-12);
    }
  }

  TEST_CASE("conv2d_inference is conv2d + bias + residual + relu, on every CPU backend, over poisoned outputs") {
    struct Case {
      Shape x, w;
      int stride, padding;
      bool residual, relu;
    };
    const std::vector<Case> cases = {{{2, 9, 9, 5}, {7, 3, 3, 5}, 1, 1, true, true},
                                     {{2, 9, 9, 5}, {7, 3, 3, 5}, 2, 1, false, true},
                                     {{1, 8, 6, 16}, {4, 1, 1, 16}, 2, 0, true, false},
                                     {{3, 11, 11, 3}, {8, 7, 7, 3}, 2, 3, false, false}};
    const NoGradScope no_grad;
    uint64_t seed = 900;
    for (const Case& c : cases) {
      const Tensor x = test::random_tensor(c.x, DType::f64, Device::cpu(), ++seed);
      const Tensor w = test::random_tensor(c.w, DType::f64, Device::cpu(), ++seed);
      const Tensor b = test::random_tensor({c.w[0]}, DType::f64, Device::cpu(), ++seed);
      Tensor expected = conv2d(x, w, c.stride, c.padding);
      const Tensor res = c.residual ? test::random_tensor(expected.shape(), DType::f64, Device::cpu(), ++seed) : Tensor();
      {  // the composition, in f64 on the reference
        const CpuBackendScope reference(Backend::cpu);
        std::vector<double> e = expected.to_host_doubles();
        const std::vector<double> bias = b.to_host_doubles();
        const std::vector<double> r = c.residual ? res.to_host_doubles() : std::vector<double>();
        for (size_t i = 0; i < e.size(); ++i) {
          e[i] += bias[i % bias.size()] + (c.residual ? r[i] : 0.0);
          if (c.relu) e[i] = std::max(e[i], 0.0);
        }
        expected = Tensor::from_vector(e, expected.shape(), DType::f64);
        set_poison_new_tensors(true);
        const Tensor got = conv2d_inference(x, w, b, res, c.relu, c.stride, c.padding);
        set_poison_new_tensors(false);
        CHECK(test::scaled_max_error(expected, got) <= 1e-12);
      }
      for (const Backend backend : {Backend::cpu, Backend::onednn}) {
        if (!cpu_backend_available(backend)) continue;
        const CpuBackendScope scope(backend);
        const auto f32 = [](const Tensor& t) { return t.defined() ? cast(t, DType::f32) : t; };
        set_poison_new_tensors(true);
        const Tensor got = conv2d_inference(f32(x), f32(w), f32(b), f32(res), c.relu, c.stride, c.padding);
        set_poison_new_tensors(false);
        INFO(backend_name(backend), " x ", shape_str(c.x), " w ", shape_str(c.w));
        CHECK(test::scaled_max_error(expected, got) <= 1e-6);
      }
    }
  }

  TEST_CASE("conv2d_inference with a weight cache (oneDNN: Winograd for 3x3 stride 1) matches the reference") {
    // 3x3 stride 1 with >= 16 channels: the fast CPU backend's Winograd path; the strided one and
    // the 1x1 take the direct convolution with cached blocked weights.
    struct Case {
      Shape x, w;
      int stride, padding;
      bool residual;
    };
    const NoGradScope no_grad;
    uint64_t seed = 950;
    for (const Case& c : {Case{{2, 12, 12, 32}, {48, 3, 3, 32}, 1, 1, true}, Case{{3, 7, 9, 16}, {16, 3, 3, 16}, 1, 1, false},
                          Case{{2, 12, 12, 32}, {48, 3, 3, 32}, 2, 1, false}, Case{{2, 6, 6, 64}, {32, 1, 1, 64}, 1, 0, true}}) {
      const Tensor x = test::random_tensor(c.x, DType::f32, Device::cpu(), ++seed);
      const Tensor w = test::random_tensor(c.w, DType::f32, Device::cpu(), ++seed, -0.2, 0.2);
      const Tensor b = test::random_tensor({c.w[0]}, DType::f32, Device::cpu(), ++seed);
      Tensor res;
      if (c.residual) res = test::random_tensor(conv2d(x, w, c.stride, c.padding).shape(), DType::f32, Device::cpu(), ++seed);
      Tensor expected;
      {
        const CpuBackendScope reference(Backend::cpu);
        expected = conv2d_inference(x, w, b, res, true, c.stride, c.padding);
      }
      ConvWeightCache cache;
      for (int call = 0; call < 2; ++call) {  // the second call reads the prepared weights
        set_poison_new_tensors(true);
        const Tensor got = conv2d_inference(x, w, b, res, true, c.stride, c.padding, &cache);
        set_poison_new_tensors(false);
        INFO("x ", shape_str(c.x), " w ", shape_str(c.w), " stride ", c.stride, " call ", call);
        CHECK(test::scaled_max_error(expected, got) <= 1e-5);
      }
    }
  }

  TEST_CASE("conv2d_inference: wrong shapes, a GPU-only use and recorded gradients are errors naming the op") {
    const Tensor x = Tensor::zeros({1, 5, 5, 3}, DType::f32), w = Tensor::zeros({4, 3, 3, 3}, DType::f32);
    const Tensor b = Tensor::zeros({4}, DType::f32);
    CHECK_THROWS_WITH(conv2d_inference(x, w, Tensor::zeros({3}, DType::f32), Tensor(), true, 1, 1),
                      doctest::Contains("conv2d_inference: channels disagree"));
    CHECK_THROWS_WITH(conv2d_inference(x, w, b, Tensor::zeros({1, 5, 5, 3}, DType::f32), true, 1, 1),
                      doctest::Contains("the residual must have the output's shape [1,5,5,4]"));
    Tensor wg = Tensor::zeros({4, 3, 3, 3}, DType::f32);
    wg.set_requires_grad(true);
    CHECK_THROWS_WITH(conv2d_inference(x, wg, b, Tensor(), true, 1, 1), doctest::Contains("inference only"));
  }

  TEST_CASE("conv2d_output_size") {
    CHECK(conv2d_output_size(224, 7, 2, 3) == 112);
    CHECK(conv2d_output_size(8, 3, 2, 1) == 4);
    CHECK(conv2d_output_size(1, 1, 1, 0) == 1);
    CHECK(conv2d_output_size(2, 5, 1, 1) == 0);  // the kernel does not fit: no output
  }

  TEST_CASE("linear: hand-computed values and gradients, with and without bias") {
    // x (3,2), w (3,2) = [1 0; 0 1; 1 1], b = [0.5 -1 2].
    Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {3, 2}, DType::f64);
    Tensor w = Tensor::from_vector({1, 0, 0, 1, 1, 1}, {3, 2}, DType::f64);
    Tensor b = Tensor::from_vector({0.5, -1, 2}, {3}, DType::f64);
    x.set_requires_grad(true);
    w.set_requires_grad(true);
    b.set_requires_grad(true);
    Tensor y = linear(x, w, b);
    CHECK(y.shape() == Shape{3, 3});
    CHECK(y.to_host_doubles() == std::vector<double>{1.5, 1, 5, 3.5, 3, 9, 5.5, 5, 13});
    backward(y, Tensor::full({3, 3}, 1.0, DType::f64));
    CHECK(x.grad().to_host_doubles() == std::vector<double>{2, 2, 2, 2, 2, 2});  // gy w: column sums of w
    CHECK(w.grad().to_host_doubles() == std::vector<double>{9, 12, 9, 12, 9, 12});  // gy^T x: column sums of x
    CHECK(b.grad().to_host_doubles() == std::vector<double>{3, 3, 3});

    const NoGradScope no_tape;  // nothing left on the tape for later tests
    const Tensor y_plain = linear(x, w);
    CHECK(y_plain.to_host_doubles() == std::vector<double>{1, 2, 3, 3, 4, 7, 5, 6, 11});
  }

  TEST_CASE("conv2d refuses bad arguments, naming the op and the shapes") {
    const Tensor x = Tensor::zeros({2, 7, 7, 3}, DType::f32);
    const Tensor w = Tensor::zeros({5, 3, 3, 3}, DType::f32);
    const auto check_error = [](const std::string& msg, const char* shape) {
      INFO(msg);
      CHECK(msg.find("conv2d") != std::string::npos);
      CHECK(msg.find(shape) != std::string::npos);
    };
    check_error(error_message([&] { conv2d(x, Tensor::zeros({5, 3, 3, 4}, DType::f32), 1, 1); }), "[2,7,7,3]");
    check_error(error_message([&] { conv2d(x, Tensor::zeros({5, 3, 3, 4}, DType::f32), 1, 1); }), "[5,3,3,4]");
    check_error(error_message([&] { conv2d(Tensor::zeros({7, 7, 3}, DType::f32), w, 1, 1); }), "[7,7,3]");
    check_error(error_message([&] { conv2d(x, Tensor::zeros({5, 9, 3}, DType::f32), 1, 1); }), "[5,9,3]");
    check_error(error_message([&] { conv2d(x, Tensor::zeros({5, 3, 3, 3}, DType::f64), 1, 1); }), "[2,7,7,3]");
    check_error(error_message([&] { conv2d(x, w, 0, 1); }), "[2,7,7,3]");
    check_error(error_message([&] { conv2d(x, w, 1, -1); }), "[2,7,7,3]");
    check_error(error_message([&] { conv2d(x, Tensor::zeros({5, 11, 11, 3}, DType::f32), 1, 1); }), "[5,11,11,3]");
    // Tensors on different devices need a GPU to construct: not checked here.
  }

  TEST_CASE("linear refuses bad arguments, naming the op and the shapes") {
    const Tensor x = Tensor::zeros({3, 7}, DType::f32);
    const Tensor w = Tensor::zeros({5, 7}, DType::f32);
    const auto check_error = [](const std::string& msg, const char* shape) {
      INFO(msg);
      CHECK(msg.find("linear") != std::string::npos);
      CHECK(msg.find(shape) != std::string::npos);
    };
    check_error(error_message([&] { linear(x, Tensor::zeros({5, 8}, DType::f32)); }), "[5,8]");
    check_error(error_message([&] { linear(x, Tensor::zeros({5, 8}, DType::f32)); }), "[3,7]");
    check_error(error_message([&] { linear(Tensor::zeros({3, 1, 7}, DType::f32), w); }), "[3,1,7]");
    check_error(error_message([&] { linear(x, Tensor::zeros({5, 7}, DType::f64)); }), "[3,7]");
    check_error(error_message([&] { linear(x, w, Tensor::zeros({4}, DType::f32)); }), "[4]");
    check_error(error_message([&] { linear(x, w, Tensor::zeros({5}, DType::f64)); }), "[5]");
    check_error(error_message([&] { linear(x, w, Tensor::zeros({1, 5}, DType::f32)); }), "[1,5]");
  }
}
