// sync_batch_norm on CUDA with one rank (the "single" communicator on cuda:0) against the CPU
// float64 run of the same op on the values the GPU sees (after rounding to f32 or bf16), every
// new tensor poisoned with NaN so an unwritten element fails; and against batch_norm2d / 1d on
// CUDA. Bounds (NMSE over each output): f32 1e-10 (float sums within slabs, double across them:
// relative errors near 1e-6 at worst, an NMSE near 1e-12), bf16 1e-4 (the op matrix's bf16
// bound: y and gx are rounded to bf16 once). Shapes span several slabs and column tiles.
// Without a GPU every case says it was skipped and why.
#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "engine/autograd.h"
#include "engine/comm/communicator.h"
#include "engine/device.h"
#include "engine/ops/batchnorm.h"
#include "engine/ops/batchnorm.h"
#include "tests/support/harness.h"

using namespace rsd;
using namespace rsd::test;

namespace {


struct Outcome {
  std::vector<double> y, gx, dgamma, dbeta, running_mean, running_var;
};

enum class Which { sync, plain };

// x and gy in `dtype` on `device` (per-channel tensors f32 on CUDA, x's dtype on the CPU), from
// the same host values for a seed; x, gy first rounded to `rounding` so that every run sees the
// same numbers.
Outcome run(const Shape& shape, DType dtype, DType rounding, Device device, uint64_t seed, double eps, Which which,
            comm::Communicator& world) {
  const int64_t C = shape.back();
  const DType channel_dtype = device.is_cuda() ? DType::f32 : dtype;
  auto make = [&](const Shape& s, DType storage, uint64_t k, double lo, double hi) {
    const Tensor host = random_tensor(s, rounding, Device::cpu(), seed + k, lo, hi);
    Tensor t = Tensor::empty(s, storage, device);
    t.copy_from(host);
    return t;
  };
  Tensor x = make(shape, dtype, 0, -2.0, 3.0).set_requires_grad(true);
  Tensor gy = make(shape, dtype, 1, -1.0, 1.0);
  Tensor gamma = make({C}, channel_dtype, 2, 0.5, 1.5).set_requires_grad(true);
  Tensor beta = make({C}, channel_dtype, 3, -1.0, 1.0).set_requires_grad(true);
  Tensor running_mean = make({C}, channel_dtype, 4, -1.0, 1.0);
  Tensor running_var = make({C}, channel_dtype, 5, 0.5, 1.5);
  set_poison_new_tensors(true);
  Tensor y = which == Which::sync
                 ? sync_batch_norm(x, gamma, beta, running_mean, running_var, world, 0.1, eps)
                 : (shape.size() == 4 ? batch_norm2d(x, gamma, beta, running_mean, running_var, true, 0.1, eps)
                                      : batch_norm1d(x, gamma, beta, running_mean, running_var, true, 0.1, eps));
  backward(y, gy);
  set_poison_new_tensors(false);
  return {y.to_host_doubles(),
          x.grad().to_host_doubles(),
          gamma.grad().to_host_doubles(),
          beta.grad().to_host_doubles(),
          running_mean.to_host_doubles(),
          running_var.to_host_doubles()};
}

void check_close(const Outcome& got, const Outcome& want, double bound) {
  CHECK(nmse(want.y, got.y) <= bound);
  CHECK(nmse(want.gx, got.gx) <= bound);
  CHECK(nmse(want.dgamma, got.dgamma) <= bound);
  CHECK(nmse(want.dbeta, got.dbeta) <= bound);
  CHECK(nmse(want.running_mean, got.running_mean) <= bound);
  CHECK(nmse(want.running_var, got.running_var) <= bound);
}

}  // namespace

TEST_CASE("sync_batch_norm on CUDA, one rank: equals the float64 CPU run and CUDA batch_norm") {
  auto gpu_world = comm::make_communicator(comm::LaunchInfo{}, Device::cuda(0));
  auto cpu_world = comm::make_communicator(comm::LaunchInfo{}, Device::cpu());
  struct Case {
    Shape shape;
    double eps;
  };
  const std::vector<Case> cases = {{{2, 3, 5, 7}, 1e-5},  {{8, 32, 32, 64}, 1e-5}, {{300, 33}, 1e-5},
                                   {{4, 7, 7, 130}, 1e-5}, {{2, 1}, 0.5},          {{70000, 3}, 1e-5}};
  uint64_t seed = 500;
  for (DType dtype : {DType::f32, DType::bf16}) {
    for (const Case& c : cases) {
      CAPTURE(dtype_name(dtype));
      CAPTURE(shape_str(c.shape));
      seed += 10;
      const double bound = dtype == DType::f32 ? 1e-10 : 1e-4;
      const Outcome reference =
          run(c.shape, DType::f64, dtype, Device::cpu(), seed, c.eps, Which::sync, *cpu_world);
      const Outcome gpu = run(c.shape, dtype, dtype, Device::cuda(0), seed, c.eps, Which::sync, *gpu_world);
      check_close(gpu, reference, bound);
      const Outcome plain = run(c.shape, dtype, dtype, Device::cuda(0), seed, c.eps, Which::plain, *gpu_world);
      check_close(gpu, plain, bound);
    }
  }
}
