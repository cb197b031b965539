// info_nce_loss on the CPU against an independent float64 formula (info_nce_reference below), in
// f64 and f32, and its bad uses. The CPU op is the oracle of the CUDA and emulated-kernel tests;
// the formula here, written another way, is what checks the oracle itself. Bounds: f64 1e-10
// relative (sums in double on both sides); f32 1e-5 relative at tau >= 0.1. Below that the bound
// grows as 0.1 / tau: S (up to 1/tau in size) is stored in f32, so its own rounding, ~6e-8 / tau,
// moves every probability by that much relative. Gradients are compared by relative L2 error over
// the whole tensor (relative_l2, tests/support/info_nce_cases.h), the loss and dtau by relative error.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/allocator.h"
#include "engine/autograd.h"
#include "engine/device.h"
#include "engine/ops/info_nce.h"
#include "tests/support/checks.h"
#include "tests/support/harness.h"
#include "tests/support/info_nce_cases.h"
#include "tests/support/runner.h"

using namespace rsd;
using namespace rsd::test;
namespace {

// The loss and its gradients written plainly: explicit softmax matrices, the chain rule through
// S = a_hat b_hat^T / tau, and the Jacobian of the row normalization.
struct InfoNceReference {
  double loss = 0.0;
  std::vector<double> da, db;  // (N, D), (M, D)
  double dtau = 0.0;
};

// A: (N, D), B: (M, D) row-major doubles; g: the gradient of the loss.
InfoNceReference info_nce_reference(const std::vector<double>& A, const std::vector<double>& B, int64_t N, int64_t M,
                                    int64_t D, double tau, int64_t offset, bool symmetric, double eps, double g) {
  const auto at = [D](const std::vector<double>& x, int64_t r, int64_t d) { return x[static_cast<size_t>(r * D + d)]; };
  // Normalized rows and their (unclamped) norms.
  const auto normalize = [&](const std::vector<double>& x, int64_t rows, std::vector<double>& hat,
                             std::vector<double>& norm) {
    hat.assign(static_cast<size_t>(rows * D), 0.0);
    norm.assign(static_cast<size_t>(rows), 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      double ss = 0.0;
      for (int64_t d = 0; d < D; ++d) ss += at(x, r, d) * at(x, r, d);
      norm[static_cast<size_t>(r)] = std::sqrt(ss);
      for (int64_t d = 0; d < D; ++d)
        hat[static_cast<size_t>(r * D + d)] = at(x, r, d) / std::max(norm[static_cast<size_t>(r)], eps);
    }
  };
  std::vector<double> a_hat, b_hat, na, nb;
  normalize(A, N, a_hat, na);
  normalize(B, M, b_hat, nb);

  std::vector<std::vector<double>> S(static_cast<size_t>(N), std::vector<double>(static_cast<size_t>(M), 0.0));
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < M; ++j) {
      double dot = 0.0;
      for (int64_t d = 0; d < D; ++d) dot += at(a_hat, i, d) * at(b_hat, j, d);
      S[static_cast<size_t>(i)][static_cast<size_t>(j)] = dot / tau;
    }

  // P: softmax of each row of S over all M columns; Q: softmax of each positive column
  // j = offset + c over the N rows (Q[i][c] = softmax_k S[k][offset + c] at k = i).
  std::vector<std::vector<double>> P = S, Q(static_cast<size_t>(N), std::vector<double>(static_cast<size_t>(N), 0.0));
  double loss_row = 0.0, loss_col = 0.0;
  for (int64_t i = 0; i < N; ++i) {
    auto& row = P[static_cast<size_t>(i)];
    const double mx = *std::max_element(row.begin(), row.end());
    double sum = 0.0;
    for (double& v : row) sum += std::exp(v - mx);
    for (double& v : row) v = std::exp(v - mx) / sum;
    loss_row += -std::log(row[static_cast<size_t>(offset + i)]);
  }
  for (int64_t c = 0; c < N; ++c) {
    const size_t j = static_cast<size_t>(offset + c);
    double mx = S[0][j];
    for (int64_t k = 1; k < N; ++k) mx = std::max(mx, S[static_cast<size_t>(k)][j]);
    double sum = 0.0;
    for (int64_t k = 0; k < N; ++k) sum += std::exp(S[static_cast<size_t>(k)][j] - mx);
    for (int64_t k = 0; k < N; ++k)
      Q[static_cast<size_t>(k)][static_cast<size_t>(c)] = std::exp(S[static_cast<size_t>(k)][j] - mx) / sum;
    loss_col += -std::log(Q[static_cast<size_t>(c)][static_cast<size_t>(c)]);
  }
  InfoNceReference ref;
  const double n = static_cast<double>(N);
  ref.loss = symmetric ? (loss_row + loss_col) / (2.0 * n) : loss_row / n;

  // dL/dS: row term (P - onehot) / N, column term (Q - onehot) / N on the positive columns.
  const double w_row = g / (symmetric ? 2.0 * n : n), w_col = symmetric ? g / (2.0 * n) : 0.0;
  std::vector<double> da_hat(static_cast<size_t>(N * D), 0.0), db_hat(static_cast<size_t>(M * D), 0.0);
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < M; ++j) {
      const double onehot = j == offset + i ? 1.0 : 0.0;
      double dS = w_row * (P[static_cast<size_t>(i)][static_cast<size_t>(j)] - onehot);
      if (j >= offset && j < offset + N)
        dS += w_col * (Q[static_cast<size_t>(i)][static_cast<size_t>(j - offset)] - onehot);
      // S = <a_hat_i, b_hat_j> / tau.
      ref.dtau += dS * (-S[static_cast<size_t>(i)][static_cast<size_t>(j)] / tau);
      for (int64_t d = 0; d < D; ++d) {
        da_hat[static_cast<size_t>(i * D + d)] += dS * at(b_hat, j, d) / tau;
        db_hat[static_cast<size_t>(j * D + d)] += dS * at(a_hat, i, d) / tau;
      }
    }

  // Through x_hat = x / max(|x|, eps): the Jacobian (I - x_hat x_hat^T) / |x| above eps, I / eps
  // at or below it (where the forward divides by the constant eps).
  const auto through_norm = [&](const std::vector<double>& ghat, const std::vector<double>& hat,
                                const std::vector<double>& norm, int64_t rows) {
    std::vector<double> gx(static_cast<size_t>(rows * D), 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      const double nr = norm[static_cast<size_t>(r)];
      for (int64_t d = 0; d < D; ++d) {
        double v = 0.0;
        for (int64_t e = 0; e < D; ++e) {
          const double jac = nr > eps ? ((d == e ? 1.0 : 0.0) - at(hat, r, d) * at(hat, r, e)) / nr
                                      : (d == e ? 1.0 / eps : 0.0);
          v += jac * ghat[static_cast<size_t>(r * D + e)];
        }
        gx[static_cast<size_t>(r * D + d)] = v;
      }
    }
    return gx;
  };
  ref.da = through_norm(da_hat, a_hat, na, N);
  ref.db = through_norm(db_hat, b_hat, nb, M);
  return ref;
}

// Inputs drawn in f64, then rounded to the run dtype; the reference sees the rounded values.
struct NceInputs {
  std::vector<double> a, b;
};

NceInputs random_inputs(const NceConfig& c, uint64_t seed) {
  return {random_tensor({c.n, c.d}, DType::f64, Device::cpu(), seed).to_host_doubles(),
          random_tensor({c.m, c.d}, DType::f64, Device::cpu(), seed + 1).to_host_doubles()};
}

struct NceRun {
  double loss;
  std::vector<double> da, db;
  double dtau;
};

NceRun run_op(const NceConfig& c, const NceInputs& in, DType dtype, double g, Variant variant = Variant::fused) {
  Tensor a = Tensor::from_vector(in.a, {c.n, c.d}, dtype);
  Tensor b = Tensor::from_vector(in.b, {c.m, c.d}, dtype);
  Tensor tau = Tensor::from_vector({c.tau}, {1}, dtype);
  a.set_requires_grad(true);
  b.set_requires_grad(true);
  tau.set_requires_grad(true);
  InfoNceOptions opt;
  opt.symmetric = c.symmetric;
  opt.variant = variant;
  Tensor loss = info_nce_loss(a, b, tau, c.offset, opt);
  backward(loss, Tensor::full({1}, g, dtype));
  return {loss.item(), a.grad().to_host_doubles(), b.grad().to_host_doubles(), tau.grad().item()};
}

// A non-finite result is infinitely wrong (a NaN would otherwise pass every bound).
double relative(double got, double want) {
  return std::isfinite(got) ? std::fabs(got - want) / std::max(std::fabs(want), 1e-12) : INFINITY;
}

double bound_for(DType dtype, double tau) { return dtype == DType::f64 ? 1e-10 : 1e-5 * std::max(1.0, 0.1 / tau); }

// Runs the CPU op in `dtype` on `in` (rounded to dtype first) and compares with the reference.
void check_against_reference(const NceConfig& c, NceInputs in, DType dtype) {
  CAPTURE(c.n);
  CAPTURE(c.m);
  CAPTURE(c.offset);
  CAPTURE(c.d);
  CAPTURE(c.tau);
  CAPTURE(c.symmetric);
  const std::string dtype_str = dtype_name(dtype);
  CAPTURE(dtype_str);
  in.a = Tensor::from_vector(in.a, {c.n, c.d}, dtype).to_host_doubles();
  in.b = Tensor::from_vector(in.b, {c.m, c.d}, dtype).to_host_doubles();
  const double tau = Tensor::from_vector({c.tau}, {1}, dtype).item();
  const double g = 0.75;
  const InfoNceReference ref = info_nce_reference(in.a, in.b, c.n, c.m, c.d, tau, c.offset, c.symmetric, 1e-12, g);
  const NceRun got = run_op(c, in, dtype, g);
  const double bound = bound_for(dtype, tau);
  INFO("loss " << got.loss << " reference " << ref.loss);
  CHECK(relative(got.loss, ref.loss) <= bound);
  INFO("dtau " << got.dtau << " reference " << ref.dtau);
  CHECK(relative(got.dtau, ref.dtau) <= bound);
  const double ea = relative_l2(ref.da, got.da), eb = relative_l2(ref.db, got.db);
  INFO("da relative L2 " << ea << ", db relative L2 " << eb);
  CHECK(ea <= bound);
  CHECK(eb <= bound);
}

const std::vector<NceConfig>& sizes() {
  static const std::vector<NceConfig> configs = {
      {1, 1, 0, 3, 0.1, true},       {1, 5, 3, 64, 0.1, true},        {3, 3, 0, 130, 0.07, true},
      {3, 7, 4, 256, 0.1, false},    {257, 257, 0, 64, 0.1, true},    {257, 300, 43, 130, 0.05, true},
      {257, 257, 0, 256, 0.2, false}, {1000, 1000, 0, 3, 0.1, true},  {1000, 1200, 200, 64, 0.07, true},
      {257, 513, 256, 256, 0.1, true}};
  return configs;
}

// f() must throw rsd::Error whose message names info_nce_loss and contains `shape`.
void check_error(const std::function<void()>& f, const std::string& shape) {
  rsd::test::check_error(f, {"info_nce_loss", shape});
}

}  // namespace

TEST_SUITE("losses") {
  TEST_CASE("info_nce_loss on the CPU matches the float64 reference (f64 and f32)") {
    uint64_t seed = 100;
    for (const NceConfig& c : sizes()) {
      const NceInputs in = random_inputs(c, seed += 2);
      check_against_reference(c, in, DType::f64);
      check_against_reference(c, in, DType::f32);
    }
  }

  TEST_CASE("info_nce_loss: large logits (tau = 0.01)") {
    for (const NceConfig& c : {NceConfig{257, 257, 0, 3, 0.01, true}, NceConfig{100, 300, 50, 64, 0.01, true}}) {
      const NceInputs in = random_inputs(c, 7);
      check_against_reference(c, in, DType::f64);
      check_against_reference(c, in, DType::f32);
    }
  }

  TEST_CASE("info_nce_loss: duplicate rows and identical positive pairs") {
    const NceConfig c{33, 40, 5, 64, 0.1, true};
    NceInputs in = random_inputs(c, 11);
    const auto copy_row = [&](std::vector<double>& dst, int64_t r, const std::vector<double>& src, int64_t s) {
      std::copy(src.begin() + s * c.d, src.begin() + (s + 1) * c.d, dst.begin() + r * c.d);
    };
    copy_row(in.a, 1, in.a, 0);   // two equal rows of A
    copy_row(in.b, 30, in.b, 2);  // two equal rows of B (one of them a positive)
    for (int64_t i = 10; i < 20; ++i) copy_row(in.b, c.offset + i, in.a, i);  // b_{offset+i} = a_i
    check_against_reference(c, in, DType::f64);
    check_against_reference(c, in, DType::f32);
  }

  TEST_CASE("info_nce_loss: zero vectors take the eps branch of the normalization") {
    const NceConfig c{9, 12, 2, 3, 0.1, true};
    NceInputs in = random_inputs(c, 13);
    for (int64_t d = 0; d < c.d; ++d) {
      in.a[static_cast<size_t>(4 * c.d + d)] = 0.0;
      in.b[static_cast<size_t>(0 * c.d + d)] = 0.0;
      in.b[static_cast<size_t>((c.offset + 6) * c.d + d)] = 0.0;
    }
    check_against_reference(c, in, DType::f64);
    check_against_reference(c, in, DType::f32);
  }

  TEST_CASE("info_nce_loss: N = M = 1 has zero loss and zero gradients") {
    const NceConfig c{1, 1, 0, 5, 0.1, true};
    const NceRun got = run_op(c, random_inputs(c, 17), DType::f64, 1.0);
    CHECK(got.loss == doctest::Approx(0.0));
    CHECK(got.dtau == doctest::Approx(0.0));
    for (double v : got.da) CHECK(v == doctest::Approx(0.0));
  }

  TEST_CASE("info_nce_forward / info_nce_backward equal the autograd op") {
    const NceConfig c{7, 10, 3, 5, 0.2, true};
    const NceInputs in = random_inputs(c, 19);
    const NceRun tape = run_op(c, in, DType::f64, 0.5);
    Tensor a = Tensor::from_vector(in.a, {c.n, c.d}, DType::f64);
    Tensor b = Tensor::from_vector(in.b, {c.m, c.d}, DType::f64);
    Tensor tau = Tensor::from_vector({c.tau}, {1}, DType::f64);
    const InfoNceContext ctx = info_nce_forward(a, b, tau, c.offset);
    const InfoNceGrads grads = info_nce_backward(ctx, Tensor::full({1}, 0.5, DType::f64));
    CHECK(ctx.loss.item() == doctest::Approx(tape.loss).epsilon(1e-14));
    CHECK(grads.dtau.item() == doctest::Approx(tape.dtau).epsilon(1e-14));
    CHECK(relative_l2(tape.da, grads.da.to_host_doubles()) <= 1e-14);
    CHECK(relative_l2(tape.db, grads.db.to_host_doubles()) <= 1e-14);
  }

  TEST_CASE("info_nce_loss: offset out of range, D mismatch, bad tau, wrong ndim") {
    const Tensor a = Tensor::zeros({3, 4}, DType::f32);
    const Tensor b = Tensor::zeros({7, 4}, DType::f32);
    const Tensor tau = Tensor::full({1}, 0.1, DType::f32);
    check_error([&] { info_nce_loss(a, b, tau, 5); }, "f32[7,4]@cpu");
    check_error([&] { info_nce_loss(a, b, tau, -1); }, "f32[3,4]@cpu");
    check_error([&] { info_nce_loss(Tensor::zeros({8, 4}, DType::f32), b, tau); }, "f32[8,4]@cpu");
    check_error([&] { info_nce_loss(a, Tensor::zeros({7, 5}, DType::f32), tau); }, "f32[7,5]@cpu");
    check_error([&] { info_nce_loss(a, b, Tensor::full({2}, 0.1, DType::f32)); }, "f32[2]@cpu");
    check_error([&] { info_nce_loss(a, b, Tensor::full({1}, 0.0, DType::f32)); }, "f32[1]@cpu");
    check_error([&] { info_nce_loss(a, b, Tensor::full({1}, -0.5, DType::f32)); }, "f32[1]@cpu");
    check_error([&] { info_nce_loss(Tensor::zeros({12}, DType::f32), b, tau); }, "f32[12]@cpu");
    check_error([&] { info_nce_loss(a, Tensor::zeros({7, 4, 1}, DType::f32), tau); }, "f32[7,4,1]@cpu");
    check_error([&] { info_nce_loss(a, Tensor::zeros({7, 4}, DType::f64), tau); }, "f64[7,4]@cpu");
    check_error([&] { info_nce_loss(Tensor::zeros({0, 4}, DType::f32), b, tau); }, "f32[0,4]@cpu");
  }
}

// info_nce_loss on CUDA, fused and plain, against the float64 oracle, the CPU op run in f64 on the
// values the GPU sees (inputs rounded to f32 or bf16, tau to f32), every output poisoned (NaN)
// before each run. Sizes and bounds:
// tests/support/info_nce_cases.h (at D = 3 and tau = 0.01 the plain path would miss 1e-2 in bf16, so the
// small-tau case uses D = 64). Plus the fused path's peak memory and its determinism. Without a
// GPU each case says it was skipped and why.
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

Tensor leaf_on_gpu(const std::vector<double>& v, const Shape& shape, DType dtype) {
  return leaf(v, shape, dtype, Device::cuda(0));
}

// The oracle: the CPU op in f64 on the values of a, b and tau.
Run run_on_cpu_f64(const Tensor& a, const Tensor& b, const Tensor& tau, const NceConfig& c, double g) {
  const auto f64 = [](const Tensor& t) { return leaf(t.to_host_doubles(), t.shape(), DType::f64, Device::cpu()); };
  return run_op(f64(a), f64(b), f64(tau), c, Variant::fused, g);
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

TEST_SUITE("losses" * rsd::test::on_gpu()) {
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

  TEST_CASE("info_nce_loss on CUDA: tau must be f32, tensors on one device") {
    const Tensor a = Tensor::zeros({3, 4}, DType::bf16, Device::cuda(0));
    const Tensor b = Tensor::zeros({5, 4}, DType::bf16, Device::cuda(0));
    CHECK_THROWS_WITH_AS(info_nce_loss(a, b, Tensor::full({1}, 0.1, DType::bf16, Device::cuda(0))),
                         doctest::Contains("info_nce_loss"), Error);
    CHECK_THROWS_WITH_AS(info_nce_loss(a, b, Tensor::full({1}, 0.1, DType::f32)), doctest::Contains("bf16[3,4]@cuda:0"),
                         Error);
  }
}
