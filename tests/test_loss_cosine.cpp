// byol_cosine_loss on the CPU against an independent float64 formula (cosine_loss_reference
// below): random inputs in f32 and f64, zero rows (the eps clamp), duplicate rows, p = z and
// p = -z, a central-difference gradient at a zero row, the one-pass entry point; and bad uses.
// The CPU op is the oracle of the CUDA and emulated-kernel tests; the formula here, derived
// another way, is what checks the oracle itself.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/autograd.h"
#include "engine/device.h"
#include "engine/ops/cosine_loss.h"
#include "tests/support/checks.h"
#include "tests/support/cosine_loss_cases.h"
#include "tests/support/harness.h"
#include "tests/support/runner.h"

using namespace rsd;
using namespace rsd::test;
namespace {

// The loss and its gradient written plainly over doubles, no engine ops, the gradient by the
// chain rule through the normalization rather than the op's closed form:
//   phat = p / max(|p|, eps), zhat = z / max(|z|, eps), L = mean_i (2 - 2 <phat_i, zhat_i>),
//   dL/dphat_i = -2 g zhat_i / B, and back through phat = p / max(|p|, eps):
//   dp_i = (gy - phat <gy, phat>) / |p_i| where |p_i| > eps, gy / eps otherwise.
struct CosineLossReference {
  double loss = 0.0;
  std::vector<double> dp;  // (B, D): g * dL/dp
};

CosineLossReference cosine_loss_reference(const std::vector<double>& p, const std::vector<double>& z, int64_t B,
                                          int64_t D, double eps, double g = 1.0) {
  CosineLossReference r;
  r.dp.assign(static_cast<size_t>(B * D), 0.0);
  std::vector<double> phat(static_cast<size_t>(D)), zhat(static_cast<size_t>(D)), gy(static_cast<size_t>(D));
  for (int64_t i = 0; i < B; ++i) {
    const double* pi = p.data() + i * D;
    const double* zi = z.data() + i * D;
    double p2 = 0.0, z2 = 0.0;
    for (int64_t d = 0; d < D; ++d) {
      p2 += pi[d] * pi[d];
      z2 += zi[d] * zi[d];
    }
    const double np = std::max(std::sqrt(p2), eps), nz = std::max(std::sqrt(z2), eps);
    double cos = 0.0;
    for (int64_t d = 0; d < D; ++d) {
      phat[static_cast<size_t>(d)] = pi[d] / np;
      zhat[static_cast<size_t>(d)] = zi[d] / nz;
      cos += phat[static_cast<size_t>(d)] * zhat[static_cast<size_t>(d)];
    }
    r.loss += 2.0 - 2.0 * cos;
    double gy_phat = 0.0;
    for (int64_t d = 0; d < D; ++d) {
      gy[static_cast<size_t>(d)] = -2.0 * g * zhat[static_cast<size_t>(d)] / static_cast<double>(B);
      gy_phat += gy[static_cast<size_t>(d)] * phat[static_cast<size_t>(d)];
    }
    const bool clamped = !(std::sqrt(p2) > eps);
    for (int64_t d = 0; d < D; ++d) {
      const double v = clamped ? gy[static_cast<size_t>(d)] / eps
                               : (gy[static_cast<size_t>(d)] - phat[static_cast<size_t>(d)] * gy_phat) / np;
      r.dp[static_cast<size_t>(i * D + d)] = v;
    }
  }
  r.loss /= static_cast<double>(B);
  return r;
}

struct Result {
  double loss;
  std::vector<double> dp;
};

// The op through autograd: loss and p's gradient (upstream gradient 1).
Result run_op(const Tensor& p, const Tensor& z, double eps = 1e-8) {
  p.impl()->grad = Tensor();
  Tensor loss = byol_cosine_loss(p, z, eps);
  backward(loss);
  return {loss.item(), p.grad().to_host_doubles()};
}

double relative(double got, double want) { return std::fabs(got - want) / std::max(std::fabs(want), 1e-300); }

// Rows of p and z with the special cases the clamp is for; row r of each is D values.
std::vector<double> rows(const std::vector<std::vector<double>>& r) {
  std::vector<double> out;
  for (const auto& row : r) out.insert(out.end(), row.begin(), row.end());
  return out;
}

// f() must throw rsd::Error whose message names byol_cosine_loss and contains `shape`.
void check_error(const std::function<void()>& f, const std::string& shape) {
  rsd::test::check_error(f, {"byol_cosine_loss", shape});
}

const std::vector<std::pair<int64_t, int64_t>> kSizes{{1, 3}, {3, 64}, {257, 3}, {257, 130}, {1000, 256}, {3, 1032}};

}  // namespace

TEST_SUITE("losses") {
  TEST_CASE("byol_cosine_loss on the CPU matches the float64 reference in f64 and f32") {
    uint64_t seed = 9100;
    for (const auto& [B, D] : kSizes) {
      for (DType dtype : {DType::f64, DType::f32}) {
        CAPTURE(B);
        CAPTURE(D);
        CAPTURE(dtype_name(dtype));
        const std::vector<double> pv = random_tensor({B, D}, DType::f64, Device::cpu(), seed++).to_host_doubles();
        const std::vector<double> zv = random_tensor({B, D}, DType::f64, Device::cpu(), seed++).to_host_doubles();
        Tensor p = leaf(pv, {B, D}, dtype);
        Tensor z = Tensor::from_vector(zv, {B, D}, dtype);
        // The reference sees the values the op sees (rounded to f32 in an f32 run).
        const std::vector<double> ph = p.to_host_doubles(), zh = z.to_host_doubles();
        const CosineLossReference ref = cosine_loss_reference(ph, zh, B, D, 1e-8);
        const Result got = run_op(p, z);
        // f64: both sides in double. f32: the op sums in double and rounds its outputs once.
        const bool f64 = dtype == DType::f64;
        CHECK(relative(got.loss, ref.loss) <= (f64 ? 1e-13 : 1e-6));
        CHECK(nmse(ref.dp, got.dp) <= (f64 ? 1e-24 : 1e-12));
        CHECK(cosine_row_error(ref.dp, cosine_row_scales(ph, zh, B, D, 1e-8), got.dp, B, D) <= (f64 ? 1e-12 : 1e-6));
      }
    }
  }

  TEST_CASE("byol_cosine_loss: zero rows are clamped to norm eps; loss and gradient stay finite") {
    const double eps = 1e-8;
    // Rows: p zero, z zero, both zero, an ordinary row.
    const std::vector<double> pv = rows({{0, 0, 0}, {1, 2, 2}, {0, 0, 0}, {0.5, -1, 2}});
    const std::vector<double> zv = rows({{3, 0, 4}, {0, 0, 0}, {0, 0, 0}, {1, 1, -0.25}});
    for (DType dtype : {DType::f64, DType::f32}) {
      CAPTURE(dtype_name(dtype));
      Tensor p = leaf(pv, {4, 3}, dtype);
      Tensor z = Tensor::from_vector(zv, {4, 3}, dtype);
      const std::vector<double> ph = p.to_host_doubles(), zh = z.to_host_doubles();
      const CosineLossReference ref = cosine_loss_reference(ph, zh, 4, 3, eps);
      const Result got = run_op(p, z, eps);
      CHECK(std::isfinite(got.loss));
      for (double v : got.dp) CHECK(std::isfinite(v));
      CHECK(relative(got.loss, ref.loss) <= 1e-6);
      CHECK(cosine_row_error(ref.dp, cosine_row_scales(ph, zh, 4, 3, eps), got.dp, 4, 3) <= 1e-6);
      // Row 0 (p = 0): -2 z / (eps |z| B) = -2 (3, 0, 4) / (5 eps 4). Rows 1, 2 (z = 0): zero.
      CHECK(got.dp[0] == doctest::Approx(-2.0 * 3 / (5 * eps * 4)).epsilon(1e-6));
      CHECK(got.dp[1] == 0.0);
      CHECK(got.dp[2] == doctest::Approx(-2.0 * 4 / (5 * eps * 4)).epsilon(1e-6));
      for (int k = 3; k < 9; ++k) CHECK(got.dp[static_cast<size_t>(k)] == 0.0);
      // Rows 0..2 each contribute 2.
      const double cos3 = (0.5 - 1 - 0.5) / (std::sqrt(5.25) * std::sqrt(2.0625));
      CHECK(got.loss == doctest::Approx((6.0 + 2.0 - 2.0 * cos3) / 4).epsilon(1e-6));
    }
  }

  TEST_CASE("byol_cosine_loss: the gradient at a zero row matches central differences") {
    // With eps = 1e-3 and steps of 1e-5 a zero row of p stays inside the clamp (|p| <= eps), where
    // the loss is linear in p: the central difference is exact up to rounding.
    const double eps = 1e-3;
    const std::vector<double> pv = rows({{0, 0, 0, 0}, {0.3, -0.2, 0.9, 0.1}, {0, 0, 0, 0}});
    const std::vector<double> zv = rows({{0.2, -0.7, 0.1, 0.4}, {0, 0, 0, 0}, {0, 0, 0, 0}});
    Tensor p = leaf(pv, {3, 4}, DType::f64);
    Tensor z = Tensor::from_vector(zv, {3, 4}, DType::f64);
    const GradCheckReport r = check_gradients(
        [eps](const std::vector<Tensor>& in) { return byol_cosine_loss(in[0], in[1], eps); }, {p, z}, 77, 1e-5);
    INFO(r.worst);
    CHECK(r.max_error <= 1e-6);
  }

  TEST_CASE("byol_cosine_loss: duplicate rows give the one-row loss and equal gradient rows") {
    const std::vector<double> prow{0.3, -1.2, 0.8, 0.05, 2.0}, zrow{-0.4, 0.9, 0.7, 1.1, 0.2};
    Tensor p1 = leaf(prow, {1, 5}, DType::f64);
    const Result one = run_op(p1, Tensor::from_vector(zrow, {1, 5}, DType::f64));
    const int64_t B = 6;
    std::vector<double> pv, zv;
    for (int64_t i = 0; i < B; ++i) {
      pv.insert(pv.end(), prow.begin(), prow.end());
      zv.insert(zv.end(), zrow.begin(), zrow.end());
    }
    Tensor p = leaf(pv, {B, 5}, DType::f64);
    const Result many = run_op(p, Tensor::from_vector(zv, {B, 5}, DType::f64));
    CHECK(many.loss == doctest::Approx(one.loss).epsilon(1e-14));
    for (int64_t i = 0; i < B; ++i)
      for (int64_t d = 0; d < 5; ++d)
        CHECK(many.dp[static_cast<size_t>(i * 5 + d)] * B ==
              doctest::Approx(one.dp[static_cast<size_t>(d)]).epsilon(1e-14));
  }

  TEST_CASE("byol_cosine_loss: p = z gives 0, p = -z gives 4, both with a zero gradient") {
    const std::vector<double> zv = random_tensor({5, 7}, DType::f64, Device::cpu(), 31).to_host_doubles();
    for (double sign : {1.0, -1.0}) {
      for (DType dtype : {DType::f64, DType::f32}) {
        CAPTURE(sign);
        CAPTURE(dtype_name(dtype));
        std::vector<double> pv = zv;
        for (double& v : pv) v *= 3.0 * sign;  // the scale of p does not matter
        Tensor p = leaf(pv, {5, 7}, dtype);
        const Result got = run_op(p, Tensor::from_vector(zv, {5, 7}, dtype));
        const double tol = dtype == DType::f64 ? 1e-14 : 1e-6;
        CHECK(std::fabs(got.loss - (sign > 0 ? 0.0 : 4.0)) <= tol);
        for (double v : got.dp) CHECK(std::fabs(v) <= tol);
      }
    }
  }

  TEST_CASE("byol_cosine_loss: z gets no gradient; the one-pass entry point matches autograd") {
    const std::vector<double> pv = random_tensor({9, 33}, DType::f64, Device::cpu(), 41).to_host_doubles();
    const std::vector<double> zv = random_tensor({9, 33}, DType::f64, Device::cpu(), 42).to_host_doubles();
    Tensor p = leaf(pv, {9, 33}, DType::f32);
    Tensor z = leaf(zv, {9, 33}, DType::f32);  // even when the target requires grad
    Tensor loss = byol_cosine_loss(p, z);
    CHECK(loss.shape() == Shape{1});
    CHECK(loss.dtype() == DType::f32);
    CHECK(tape().op_names() == std::vector<std::string>{"byol_cosine_loss"});
    // An upstream gradient other than 1 scales dp.
    backward(loss, Tensor::full({1}, 0.5, DType::f32));
    CHECK_FALSE(z.grad().defined());
    const std::vector<double> autograd_dp = p.grad().to_host_doubles();

    Tensor fb_loss, fb_dp;
    Tensor q = Tensor::from_vector(pv, {9, 33}, DType::f32);
    byol_cosine_loss_forward_backward(q, Tensor::from_vector(zv, {9, 33}, DType::f32), fb_loss, fb_dp);
    CHECK(tape().size() == 0);
    CHECK(fb_loss.item() == loss.item());
    const std::vector<double> fb = fb_dp.to_host_doubles();
    REQUIRE(fb.size() == autograd_dp.size());
    for (size_t i = 0; i < fb.size(); ++i) CHECK(autograd_dp[i] == doctest::Approx(0.5 * fb[i]).epsilon(1e-6));

    // Preallocated outputs are overwritten in place.
    Tensor loss_out = Tensor::full({1}, 7.0, DType::f32), dp_out = Tensor::zeros({9, 33}, DType::f32);
    const void* dp_memory = dp_out.raw();
    byol_cosine_loss_forward_backward(q, Tensor::from_vector(zv, {9, 33}, DType::f32), loss_out, dp_out);
    CHECK(dp_out.raw() == dp_memory);
    CHECK(loss_out.item() == fb_loss.item());
    CHECK(dp_out.to_host_doubles() == fb);
  }

  TEST_CASE("byol_cosine_loss: shape, ndim, dtype and device mismatches, bad outputs") {
    Tensor p = Tensor::zeros({3, 4}, DType::f32);
    check_error([&] { byol_cosine_loss(p, Tensor::zeros({3, 5}, DType::f32)); }, "f32[3,5]@cpu");
    check_error([&] { byol_cosine_loss(p, Tensor::zeros({2, 4}, DType::f32)); }, "f32[3,4]@cpu");
    check_error([&] { byol_cosine_loss(Tensor::zeros({4}, DType::f32), Tensor::zeros({4}, DType::f32)); },
                "f32[4]@cpu");
    check_error([&] { byol_cosine_loss(p, Tensor::zeros({3, 4, 1}, DType::f32)); }, "f32[3,4,1]@cpu");
    check_error([&] { byol_cosine_loss(p, Tensor::zeros({3, 4}, DType::f64)); }, "f64[3,4]@cpu");
    check_error([&] { byol_cosine_loss(Tensor::zeros({0, 4}, DType::f32), Tensor::zeros({0, 4}, DType::f32)); },
                "f32[0,4]@cpu");
    check_error([&] { byol_cosine_loss(p, p, 0.0); }, "f32[3,4]@cpu");
    Tensor labels = Tensor::from_ints({0, 1, 2}, {3});
    check_error([&] { byol_cosine_loss(labels, labels); }, "i32[3]@cpu");
    if (cuda_device_count() > 0) {
      Tensor pc = Tensor::zeros({3, 4}, DType::f32, Device::cuda(0));
      check_error([&] { byol_cosine_loss(p, pc); }, "f32[3,4]@cuda:0");
    } else {
      MESSAGE("the device-mismatch case needs a GPU: " << cuda_unavailable_reason());
    }

    Tensor loss, bad_dp = Tensor::zeros({3, 5}, DType::f32);
    check_error([&] { byol_cosine_loss_forward_backward(p, p, loss, bad_dp); }, "f32[3,5]@cpu");
    Tensor bad_loss = Tensor::zeros({1}, DType::f64), dp;
    check_error([&] { byol_cosine_loss_forward_backward(p, p, bad_loss, dp); }, "f64[1]@cpu");
    Tensor aliased = p;
    Tensor loss2;
    check_error([&] { byol_cosine_loss_forward_backward(p, Tensor::zeros({3, 4}, DType::f32), loss2, aliased); },
                "f32[3,4]@cpu");
  }
}

// byol_cosine_loss on CUDA, fused and plain, against the float64 oracle, the CPU op run in f64 on
// the values the GPU sees (after rounding to f32 or bf16), with every output poisoned (NaN) before
// each run. Bounds:
//   f32: loss within 1e-5 relative: row sums of at most a few thousand products in f32 have
//        relative errors near 1e-6 at worst, and the mean of B rows adds less; gradient NMSE
//        1e-10: each element is a z + b p with a, b accurate to ~1e-6, i.e. an NMSE near 1e-12,
//        and a hundred times that leaves room without hiding a wrong term (which gives ~1e-2).
//   bf16: loss within 1e-2 relative (the plain path rounds phat and zhat to bf16, 2^-9 each);
//        gradient NMSE 1e-4, the bf16 bound of the op test matrix (the fused kernel rounds dp
//        once, ~1e-6; the plain path rounds three intermediates, a few 1e-6).
// Rows with a zero vector, p = z or p = -z are checked row by row relative to the size of
// their gradient terms (cosine_row_error, tests/support/cosine_loss_cases.h): 1e-5 in f32, 1e-2 in bf16.
// Without a GPU every case says it was skipped and why.
namespace {


struct Bounds {
  double loss;       // relative error of the loss
  double grad_nmse;  // NMSE of dp over the whole batch
  double row;        // cosine_row_error
};

Bounds bounds_for(DType dtype) { return dtype == DType::f32 ? Bounds{1e-5, 1e-10, 1e-5} : Bounds{1e-2, 1e-4, 1e-2}; }

struct Run {
  double loss;
  std::vector<double> dp;
};

// The one-pass entry point with fresh (poisoned) outputs.
Run run_forward_backward(const Tensor& p, const Tensor& z, Variant variant, double eps) {
  set_poison_new_tensors(true);
  Tensor loss, dp;
  byol_cosine_loss_forward_backward(p, z, loss, dp, eps, variant);
  set_poison_new_tensors(false);
  return {loss.item(), dp.to_host_doubles()};
}

// The autograd op with an upstream gradient g (on CUDA a device scalar read by the kernel; of the
// loss's dtype: f32 on CUDA, f64 for the oracle).
Run run_autograd(const Tensor& p, const Tensor& z, Variant variant, double eps, double g) {
  p.impl()->grad = Tensor();
  set_poison_new_tensors(true);
  Tensor loss = byol_cosine_loss(p, z, eps, variant);
  backward(loss, Tensor::full({1}, g, loss.dtype(), p.device()));
  set_poison_new_tensors(false);
  return {loss.item(), p.grad().to_host_doubles()};
}


// The CPU op in f64 on the values of p and z: the oracle, and the scales of its gradient's rows.
struct Oracle {
  Run run;
  std::vector<double> row_scale;
};

// Through autograd with the upstream gradient g (the CPU's one-pass entry point gives the same
// values for g = 1).
Oracle oracle_of(const Tensor& p, const Tensor& z, double eps, double g = 1.0) {
  Tensor p64 = Tensor::from_vector(p.to_host_doubles(), p.shape(), DType::f64);
  const Tensor z64 = Tensor::from_vector(z.to_host_doubles(), z.shape(), DType::f64);
  p64.set_requires_grad(true);
  return {run_autograd(p64, z64, Variant::fused, eps, g),
          cosine_row_scales(p64.to_host_doubles(), z64.to_host_doubles(), p.dim(0), p.dim(1), eps, g)};
}

void compare(const Oracle& ref, const Run& got, int64_t B, int64_t D, const Bounds& b, bool whole_batch_nmse) {
  INFO("loss " << got.loss << " reference " << ref.run.loss);
  CHECK(relative(got.loss, ref.run.loss) <= b.loss);
  if (whole_batch_nmse) {
    const double e = nmse(ref.run.dp, got.dp);
    INFO("gradient nmse " << e);
    CHECK(e <= b.grad_nmse);
  }
  const double row = cosine_row_error(ref.run.dp, ref.row_scale, got.dp, B, D);
  INFO("worst row error " << row);
  CHECK(row <= b.row);
}

Tensor to_gpu(const std::vector<double>& v, int64_t B, int64_t D, DType dtype, bool requires_grad = false) {
  Tensor t = Tensor::from_vector(v, {B, D}, dtype, Device::cuda(0));
  if (requires_grad) t.set_requires_grad(true);
  return t;
}

// Sizes reaching each kernel path (see tests/cases/cosine_loss_cases.cpp), the benchmark's shape,
// and one with more rows than a grid of kMaxBlocks blocks covers at once (4-lane groups, 64 rows
// a block), so the grid-stride loop runs.
const std::vector<std::pair<int64_t, int64_t>> kGpuSizes{{1, 3},       {3, 64},      {257, 130},    {1000, 256},
                                                      {65, 100},    {257, 1032},  {65536, 256},  {4200000, 4}};

}  // namespace

TEST_SUITE("losses" * rsd::test::on_gpu()) {
  TEST_CASE("byol_cosine_loss on CUDA (fused and plain) matches the float64 reference") {
    uint64_t seed = 7100;
    for (const auto& [B, D] : kGpuSizes) {
      const std::vector<double> pv = random_tensor({B, D}, DType::f64, Device::cpu(), seed++).to_host_doubles();
      const std::vector<double> zv = random_tensor({B, D}, DType::f64, Device::cpu(), seed++).to_host_doubles();
      for (DType dtype : {DType::f32, DType::bf16}) {
        const Tensor p = to_gpu(pv, B, D, dtype), z = to_gpu(zv, B, D, dtype);
        const Oracle ref = oracle_of(p, z, 1e-8);
        for (Variant variant : {Variant::fused, Variant::plain}) {
          CAPTURE(B);
          CAPTURE(D);
          CAPTURE(dtype_name(dtype));
          CAPTURE(variant_name(variant));
          compare(ref, run_forward_backward(p, z, variant, 1e-8), B, D, bounds_for(dtype), true);
        }
      }
    }
  }

  TEST_CASE("byol_cosine_loss on CUDA: the autograd op scales dp by the upstream gradient on the device") {
    const int64_t B = 33, D = 256;
    const std::vector<double> pv = random_tensor({B, D}, DType::f64, Device::cpu(), 71).to_host_doubles();
    const std::vector<double> zv = random_tensor({B, D}, DType::f64, Device::cpu(), 72).to_host_doubles();
    for (DType dtype : {DType::f32, DType::bf16}) {
      const Tensor p = to_gpu(pv, B, D, dtype, true);
      const Tensor z = to_gpu(zv, B, D, dtype, true);  // the target: never gets a gradient
      const double g = -0.75;
      const Oracle ref = oracle_of(p, z, 1e-8, g);
      for (Variant variant : {Variant::fused, Variant::plain}) {
        CAPTURE(dtype_name(dtype));
        CAPTURE(variant_name(variant));
        const Run got = run_autograd(p, z, variant, 1e-8, g);
        CHECK_FALSE(z.grad().defined());
        compare(ref, got, B, D, bounds_for(dtype), true);
      }
    }
  }

  TEST_CASE("byol_cosine_loss on CUDA: zero rows, p = z and p = -z") {
    for (int64_t D : {int64_t{3}, int64_t{130}, int64_t{256}, int64_t{1032}}) {
      const int64_t B = 7;
      std::vector<double> pv = random_tensor({B, D}, DType::f64, Device::cpu(), 81).to_host_doubles();
      std::vector<double> zv = random_tensor({B, D}, DType::f64, Device::cpu(), 82).to_host_doubles();
      make_cosine_special_rows(D, pv, zv);
      for (DType dtype : {DType::f32, DType::bf16}) {
        const Tensor p = to_gpu(pv, B, D, dtype), z = to_gpu(zv, B, D, dtype);
        const Oracle ref = oracle_of(p, z, 1e-8);
        for (Variant variant : {Variant::fused, Variant::plain}) {
          CAPTURE(D);
          CAPTURE(dtype_name(dtype));
          CAPTURE(variant_name(variant));
          // The zero-p row's gradient (~1e8) dominates any whole-batch NMSE: rows only.
          compare(ref, run_forward_backward(p, z, variant, 1e-8), B, D, bounds_for(dtype), false);
        }
      }
    }
  }

  TEST_CASE("byol_cosine_loss on CUDA is deterministic") {
    const int64_t B = 4099, D = 256;
    const Tensor p = random_tensor({B, D}, DType::bf16, Device::cuda(0), 91);
    const Tensor z = random_tensor({B, D}, DType::bf16, Device::cuda(0), 92);
    const Run first = run_forward_backward(p, z, Variant::fused, 1e-8);
    const Run second = run_forward_backward(p, z, Variant::fused, 1e-8);
    CHECK(first.loss == second.loss);
    CHECK(first.dp == second.dp);
  }
}
