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
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "engine/autograd.h"
#include "engine/device.h"
#include "engine/ops/cosine_loss.h"
#include "tests/support/cosine_loss_cases.h"
#include "tests/support/harness.h"

using namespace rsd;
using namespace rsd::test;

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

double relative(double got, double want) { return std::fabs(got - want) / std::max(std::fabs(want), 1e-300); }

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

Tensor on_gpu(const std::vector<double>& v, int64_t B, int64_t D, DType dtype, bool requires_grad = false) {
  Tensor t = Tensor::from_vector(v, {B, D}, dtype, Device::cuda(0));
  if (requires_grad) t.set_requires_grad(true);
  return t;
}

// Sizes reaching each kernel path (see tests/cases/cosine_loss_cases.cpp), the benchmark's shape,
// and one with more rows than a grid of kMaxBlocks blocks covers at once (4-lane groups, 64 rows
// a block), so the grid-stride loop runs.
const std::vector<std::pair<int64_t, int64_t>> kSizes{{1, 3},       {3, 64},      {257, 130},    {1000, 256},
                                                      {65, 100},    {257, 1032},  {65536, 256},  {4200000, 4}};

}  // namespace

TEST_SUITE("losses") {
  TEST_CASE("byol_cosine_loss on CUDA (fused and plain) matches the float64 reference") {
    uint64_t seed = 7100;
    for (const auto& [B, D] : kSizes) {
      const std::vector<double> pv = random_tensor({B, D}, DType::f64, Device::cpu(), seed++).to_host_doubles();
      const std::vector<double> zv = random_tensor({B, D}, DType::f64, Device::cpu(), seed++).to_host_doubles();
      for (DType dtype : {DType::f32, DType::bf16}) {
        const Tensor p = on_gpu(pv, B, D, dtype), z = on_gpu(zv, B, D, dtype);
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
      const Tensor p = on_gpu(pv, B, D, dtype, true);
      const Tensor z = on_gpu(zv, B, D, dtype, true);  // the target: never gets a gradient
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
        const Tensor p = on_gpu(pv, B, D, dtype), z = on_gpu(zv, B, D, dtype);
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
