// Batch norm and SyncBN, one op (engine/ops/batchnorm.h): hand-computed values of batch_norm1d /
// 2d in training and eval, and their bad uses. sync_batch_norm on one process (world size 1, the
// "single" communicator): it must equal batch_norm2d / batch_norm1d in training bit for bit
// (outputs, every gradient, running statistics), pass the float64 gradient check, leave a
// BatchNorm layer unchanged under a SyncBatchNormScope, and refuse bad uses with errors that name
// the op. Below: the same op on
// CUDA (:gpu) and across MPI ranks (:mpi).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/autograd.h"
#include "engine/comm/communicator.h"
#include "engine/device.h"
#include "engine/op.h"
#include "engine/ops/batchnorm.h"
#include "models/layers.h"
#include "tests/support/checks.h"
#include "tests/support/harness.h"
#include "tests/support/runner.h"

using namespace rsd;
using namespace rsd::test;

namespace {

std::unique_ptr<comm::Communicator> single_world(Device device = Device::cpu()) {
  return comm::make_communicator(comm::LaunchInfo{}, device);
}

// Everything one training-mode batch norm produces: y, the three gradients, the running stats.
struct BnResult {
  std::vector<double> y, gx, dgamma, dbeta, running_mean, running_var;
};

struct BnInputs {
  Tensor x, gamma, beta, running_mean, running_var, seed;
};

// Fresh leaves (x, gamma, beta) and running statistics in `dtype`, the same values for a seed.
BnInputs make_inputs(const Shape& x_shape, DType dtype, uint64_t seed) {
  const Shape c{x_shape.back()};
  BnInputs in;
  in.x = random_tensor(x_shape, dtype, Device::cpu(), seed, -2.0, 3.0);
  in.gamma = random_tensor(c, dtype, Device::cpu(), seed + 1, 0.5, 1.5);
  in.beta = random_tensor(c, dtype, Device::cpu(), seed + 2);
  in.running_mean = random_tensor(c, dtype, Device::cpu(), seed + 3);
  in.running_var = random_tensor(c, dtype, Device::cpu(), seed + 4, 0.5, 1.5);
  in.seed = random_tensor(x_shape, dtype, Device::cpu(), seed + 5);
  for (Tensor* t : {&in.x, &in.gamma, &in.beta}) t->set_requires_grad(true);
  return in;
}

using BnFunction = std::function<Tensor(BnInputs&)>;

BnResult run(const Shape& x_shape, DType dtype, uint64_t seed, const BnFunction& f) {
  BnInputs in = make_inputs(x_shape, dtype, seed);
  Tensor y = f(in);
  backward(y, in.seed);
  return {y.to_host_doubles(),
          in.x.grad().to_host_doubles(),
          in.gamma.grad().to_host_doubles(),
          in.beta.grad().to_host_doubles(),
          in.running_mean.to_host_doubles(),
          in.running_var.to_host_doubles()};
}

void check_identical(const BnResult& got, const BnResult& want) {
  CHECK(got.y == want.y);
  CHECK(got.gx == want.gx);
  CHECK(got.dgamma == want.dgamma);
  CHECK(got.dbeta == want.dbeta);
  CHECK(got.running_mean == want.running_mean);
  CHECK(got.running_var == want.running_var);
}

}  // namespace

TEST_SUITE("batchnorm") {
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

  TEST_CASE("batch_norm: wrong ndim, channel or dtype mismatches, one value per channel in training") {
    Tensor x = Tensor::zeros({2, 3, 5, 7}, DType::f32);
    Tensor c7 = Tensor::zeros({7}, DType::f32);
    Tensor rm = Tensor::zeros({7}, DType::f32), rv = Tensor::full({7}, 1.0, DType::f32);
    Tensor flat = Tensor::zeros({3, 5}, DType::f32);
    check_error([&] { batch_norm2d(flat, c7, c7, rm, rv, true); }, {"batch_norm2d", "f32[3,5]@cpu"});
    check_error([&] { batch_norm1d(x, c7, c7, rm, rv, true); }, {"batch_norm1d", "f32[2,3,5,7]@cpu"});
    Tensor c5 = Tensor::zeros({5}, DType::f32);
    check_error([&] { batch_norm2d(x, c5, c7, rm, rv, true); }, {"batch_norm2d", "f32[5]@cpu"});
    Tensor rm5 = Tensor::zeros({5}, DType::f32);
    check_error([&] { batch_norm2d(x, c7, c7, rm5, rv, false); }, {"batch_norm2d", "f32[5]@cpu"});
    Tensor c7d = Tensor::zeros({7}, DType::f64);
    check_error([&] { batch_norm2d(x, c7d, c7, rm, rv, true); }, {"batch_norm2d", "f64[7]@cpu"});
    Tensor one = Tensor::zeros({1, 1, 1, 7}, DType::f32);
    check_error([&] { batch_norm2d(one, c7, c7, rm, rv, true); }, {"batch_norm2d", "f32[1,1,1,7]@cpu"});
    CHECK_THROWS_WITH_AS(batch_norm2d(one, c7, c7, rm, rv, true), doctest::Contains("more than 1 value per channel"),
                         Error);
    Tensor one_row = Tensor::zeros({1, 7}, DType::f32);
    check_error([&] { batch_norm1d(one_row, c7, c7, rm, rv, true); }, {"batch_norm1d", "f32[1,7]@cpu"});
    CHECK_NOTHROW(batch_norm1d(one_row, c7, c7, rm, rv, false));
  }

  TEST_CASE("sync_batch_norm on one rank equals batch_norm2d / batch_norm1d in training, bit for bit") {
    // On the reference kernels, which run SyncBN's steps with nothing between them. (oneDNN's fused
    // batch norm is another summation order: the ops suite holds it to the reference in f32.)
    const CpuBackendScope reference(Backend::cpu);
    auto world = single_world();
    struct Case {
      Shape shape;
      double momentum, eps;
    };
    const std::vector<Case> cases = {{{2, 3, 5, 7}, 0.1, 1e-5}, {{4, 7, 7, 33}, 0.3, 1e-3},
                                     {{33, 13}, 0.1, 1e-5},     {{2, 1}, 0.5, 0.5}};
    uint64_t seed = 100;
    for (DType dtype : {DType::f32, DType::f64}) {
      for (const Case& c : cases) {
        CAPTURE(dtype_name(dtype));
        CAPTURE(shape_str(c.shape));
        seed += 10;
        const BnResult want = run(c.shape, dtype, seed, [&](BnInputs& in) {
          return c.shape.size() == 4 ? batch_norm2d(in.x, in.gamma, in.beta, in.running_mean, in.running_var, true,
                                                    c.momentum, c.eps)
                                     : batch_norm1d(in.x, in.gamma, in.beta, in.running_mean, in.running_var, true,
                                                    c.momentum, c.eps);
        });
        const BnResult got = run(c.shape, dtype, seed, [&](BnInputs& in) {
          Tensor y = sync_batch_norm(in.x, in.gamma, in.beta, in.running_mean, in.running_var, *world, c.momentum,
                                     c.eps);
          CHECK(tape().op_names() == std::vector<std::string>{"sync_batch_norm"});
          CHECK(y.dtype() == dtype);
          return y;
        });
        check_identical(got, want);
      }
    }
  }

  TEST_CASE("sync_batch_norm records nothing without grad, and still updates the running statistics") {
    auto world = single_world();
    BnInputs in = make_inputs({5, 3}, DType::f64, 7);
    const std::vector<double> before = in.running_mean.to_host_doubles();
    {
      NoGradScope no_grad;
      sync_batch_norm(in.x, in.gamma, in.beta, in.running_mean, in.running_var, *world);
    }
    CHECK(tape().size() == 0);
    CHECK(in.running_mean.to_host_doubles() != before);
  }

  TEST_CASE("sync_batch_norm's gradients match central differences in float64") {
    auto world = single_world();
    struct Case {
      Shape shape;
      double eps;
    };
    // (2, 1) with a large eps: see the batch_norm case of the same shape in
    // tests/cases/norm_pool_cases.cpp (a small eps leaves a vanishing, ill-conditioned gx).
    const std::vector<Case> cases = {{{2, 3, 5, 7}, 1e-5}, {{3, 5}, 1e-5}, {{1, 1, 3, 3}, 1e-5}, {{2, 1}, 0.5}};
    uint64_t seed = 1;
    for (const Case& c : cases) {
      CAPTURE(shape_str(c.shape));
      const Shape channels{c.shape.back()};
      std::vector<Tensor> inputs = {random_tensor(c.shape, DType::f64, Device::cpu(), seed++),
                                    random_tensor(channels, DType::f64, Device::cpu(), seed++),
                                    random_tensor(channels, DType::f64, Device::cpu(), seed++)};
      for (Tensor& t : inputs) t.set_requires_grad(true);
      const double eps = c.eps;
      const GradCheckReport r = check_gradients(
          [&world, eps](const std::vector<Tensor>& in) {
            Tensor running_mean = Tensor::zeros({in[0].dim(-1)}, DType::f64);
            Tensor running_var = Tensor::full({in[0].dim(-1)}, 1.0, DType::f64);
            return sync_batch_norm(in[0], in[1], in[2], running_mean, running_var, *world, 0.1, eps);
          },
          inputs, seed * 7919);
      INFO(r.worst);
      CHECK(r.max_error <= 1e-6);
    }
  }

  TEST_CASE("BatchNorm under a SyncBatchNormScope on one rank equals BatchNorm without it") {
    const CpuBackendScope reference(Backend::cpu);  // exact equality: as above
    auto world = single_world();
    for (DType dtype : {DType::f32, DType::f64}) {
      for (const Shape& shape : {Shape{3, 4, 5, 6}, Shape{9, 6}}) {
        CAPTURE(dtype_name(dtype));
        CAPTURE(shape_str(shape));
        // Two identical layers (same registry names and values), one run under the scope.
        auto run_layer = [&](bool sync, bool training) {
          ParameterRegistry params;
          Generator gen(5);
          const models::BatchNorm bn(models::LayerContext{params, gen, Device::cpu(), "bn."}, 6);
          params.zero_grad();
          Tensor gamma = params.find("bn.weight")->value, beta = params.find("bn.bias")->value;
          gamma.copy_from(random_tensor({6}, DType::f32, Device::cpu(), 11, 0.5, 1.5));
          beta.copy_from(random_tensor({6}, DType::f32, Device::cpu(), 12));
          Tensor x = random_tensor(shape, dtype, Device::cpu(), 13, -2.0, 3.0);
          x.set_requires_grad(true);
          Tensor y;
          std::vector<std::string> ops;
          if (sync) {
            models::SyncBatchNormScope scope(*world);
            CHECK(models::sync_batch_norm_communicator() == world.get());
            y = bn.forward(x, training);
            ops = tape().op_names();
          } else {
            y = bn.forward(x, training);
            ops = tape().op_names();
          }
          CHECK(models::sync_batch_norm_communicator() == nullptr);
          backward(y, random_tensor(shape, dtype, Device::cpu(), 14));
          BnResult r{y.to_host_doubles(),
                     x.grad().to_host_doubles(),
                     gamma.grad().to_host_doubles(),
                     beta.grad().to_host_doubles(),
                     params.find_buffer("bn.running_mean")->to_host_doubles(),
                     params.find_buffer("bn.running_var")->to_host_doubles()};
          return std::make_pair(r, ops);
        };
        for (bool training : {true, false}) {
          CAPTURE(training);
          const auto [plain, plain_ops] = run_layer(false, training);
          const auto [synced, synced_ops] = run_layer(true, training);
          check_identical(synced, plain);
          const bool in_sync = std::find(synced_ops.begin(), synced_ops.end(), "sync_batch_norm") != synced_ops.end();
          CHECK(in_sync == training);  // eval mode never synchronizes
          CHECK(std::find(plain_ops.begin(), plain_ops.end(), "sync_batch_norm") == plain_ops.end());
        }
      }
    }
  }

  TEST_CASE("SyncBatchNormScope nests: the inner communicator applies until it closes") {
    auto outer = single_world();
    auto inner = single_world();
    CHECK(models::sync_batch_norm_communicator() == nullptr);
    {
      models::SyncBatchNormScope a(*outer);
      CHECK(models::sync_batch_norm_communicator() == outer.get());
      {
        models::SyncBatchNormScope b(*inner);
        CHECK(models::sync_batch_norm_communicator() == inner.get());
      }
      CHECK(models::sync_batch_norm_communicator() == outer.get());
    }
    CHECK(models::sync_batch_norm_communicator() == nullptr);
  }

  TEST_CASE("sync_batch_norm: wrong ndim, channel or dtype mismatches, devices, too few values") {
    auto world = single_world();
    Tensor x = Tensor::zeros({2, 3, 5, 7}, DType::f32);
    Tensor c7 = Tensor::zeros({7}, DType::f32);
    Tensor rm = Tensor::zeros({7}, DType::f32), rv = Tensor::full({7}, 1.0, DType::f32);
    const std::string op = "sync_batch_norm";
    Tensor three_d = Tensor::zeros({3, 5, 7}, DType::f32);
    check_error([&] { sync_batch_norm(three_d, c7, c7, rm, rv, *world); }, {op, "f32[3,5,7]@cpu", "(N, C)"});
    Tensor c5 = Tensor::zeros({5}, DType::f32);
    check_error([&] { sync_batch_norm(x, c5, c7, rm, rv, *world); }, {op, "gamma", "f32[5]@cpu", "f32[2,3,5,7]@cpu"});
    Tensor rm5 = Tensor::zeros({5}, DType::f32);
    check_error([&] { sync_batch_norm(x, c7, c7, rm5, rv, *world); }, {op, "running_mean", "f32[5]@cpu"});
    Tensor c7d = Tensor::zeros({7}, DType::f64);
    check_error([&] { sync_batch_norm(x, c7, c7d, rm, rv, *world); }, {op, "beta", "f64[7]@cpu", "x's dtype"});
    check_error([&] { sync_batch_norm(x, c7, c7, rm, rv, *world, 0.1, 0.0); }, {op, "eps"});
    check_error([&] { sync_batch_norm(x, c7, c7, rm, rv, *world, 1.5); }, {op, "momentum"});
    Tensor xb = Tensor::zeros({2, 7}, DType::bf16), c7b = Tensor::zeros({7}, DType::bf16);
    Tensor rmb = Tensor::zeros({7}, DType::bf16), rvb = Tensor::full({7}, 1.0, DType::bf16);
    check_error([&] { sync_batch_norm(xb, c7b, c7b, rmb, rvb, *world); }, {op, "bf16", "CPU"});

    // A communicator on another device than x: the single backend never touches its device, so
    // one for cuda:0 can be built without a GPU.
    auto gpu_world = single_world(Device::cuda(0));
    check_error([&] { sync_batch_norm(x, c7, c7, rm, rv, *gpu_world); }, {op, "f32[2,3,5,7]@cpu", "cuda:0"});

    // One value per channel over all ranks (here the only rank), or none.
    Tensor one = Tensor::zeros({1, 1, 1, 7}, DType::f32);
    check_error([&] { sync_batch_norm(one, c7, c7, rm, rv, *world); },
                {op, "more than 1 value per channel", "f32[1,1,1,7]@cpu", "rank 0 of 1"});
    Tensor none = Tensor::zeros({0, 7}, DType::f32);
    check_error([&] { sync_batch_norm(none, c7, c7, rm, rv, *world); }, {op, "got 0 in total", "f32[0,7]@cpu"});
  }
}

// sync_batch_norm on CUDA with one rank (the "single" communicator on cuda:0) against the CPU
// float64 run of the same op on the values the GPU sees (after rounding to f32 or bf16), every
// new tensor poisoned with NaN so an unwritten element fails; and against batch_norm2d / 1d on
// CUDA. Bounds (NMSE over each output): f32 1e-10 (float sums within slabs, double across them:
// relative errors near 1e-6 at worst, an NMSE near 1e-12), bf16 1e-4 (the op matrix's bf16
// bound: y and gx are rounded to bf16 once). Shapes span several slabs and column tiles.
namespace {

enum class Which { sync, plain };

// x and gy in `dtype` on `device` (per-channel tensors f32 on CUDA, x's dtype on the CPU), from
// the same host values for a seed; x, gy first rounded to `rounding` so that every run sees the
// same numbers.
BnResult run_on_device(const Shape& shape, DType dtype, DType rounding, Device device, uint64_t seed, double eps, Which which,
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

void check_nmse(const BnResult& got, const BnResult& want, double bound) {
  CHECK(nmse(want.y, got.y) <= bound);
  CHECK(nmse(want.gx, got.gx) <= bound);
  CHECK(nmse(want.dgamma, got.dgamma) <= bound);
  CHECK(nmse(want.dbeta, got.dbeta) <= bound);
  CHECK(nmse(want.running_mean, got.running_mean) <= bound);
  CHECK(nmse(want.running_var, got.running_var) <= bound);
}

}  // namespace

TEST_SUITE("batchnorm" * rsd::test::on_gpu()) {
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
        const BnResult reference =
            run_on_device(c.shape, DType::f64, dtype, Device::cpu(), seed, c.eps, Which::sync, *cpu_world);
        const BnResult gpu = run_on_device(c.shape, dtype, dtype, Device::cuda(0), seed, c.eps, Which::sync, *gpu_world);
        check_nmse(gpu, reference, bound);
        const BnResult plain = run_on_device(c.shape, dtype, dtype, Device::cuda(0), seed, c.eps, Which::plain, *gpu_world);
        check_nmse(gpu, plain, bound);
      }
    }
  }
}

// sync_batch_norm across MPI ranks (mpirun -np 2 and -np 3): every rank builds the same global
// batch from a fixed seed, normalizes it whole with batch_norm2d / batch_norm1d (the reference,
// one process on the combined batch) and its own slice with sync_batch_norm, the slices unequal
// (and one of them empty in the (N, C) case). The slice's output and input-gradient rows, the
// running statistics and the all-reduced (summed) dgamma / dbeta must equal the reference's:
// 1e-6 relative in f32, 1e-10 in f64 (only the order of the sums differs there).
namespace {

// Rows [begin, begin + count) of the first dimension of a host tensor, as a new tensor.
Tensor slice_rows(const Tensor& t, int64_t begin, int64_t count) {
  const int64_t row = t.numel() / t.dim(0);
  const std::vector<double> all = t.to_host_doubles();
  Shape shape = t.shape();
  shape[0] = count;
  return Tensor::from_vector(std::vector<double>(all.begin() + begin * row, all.begin() + (begin + count) * row), shape,
                             t.dtype());
}

std::vector<double> rows_of(const std::vector<double>& v, int64_t row, int64_t begin, int64_t count) {
  return std::vector<double>(v.begin() + begin * row, v.begin() + (begin + count) * row);
}

// The global batch x (N, ...) with N = sum(counts), its upstream gradient gy, gamma, beta and the
// running statistics: the same on every rank (fixed seeds). Rank r holds counts[r] rows, after
// those of the ranks before it. x_shape_of_one_row: x's shape with any first dimension.
void check_against_whole_batch(const Shape& x_shape_of_one_row, const std::vector<int64_t>& counts, DType dtype,
                               double tol) {
  comm::Communicator& world = mpi_world();
  const int rank = world.rank();
  REQUIRE(static_cast<int>(counts.size()) == world.world_size());
  // The whole-batch reference on the reference kernels too: SyncBN runs their steps, and the bound
  // is for the order of the sums only (oneDNN's fused batch norm is held to them in the ops suite).
  const CpuBackendScope reference(Backend::cpu);
  int64_t total = 0, first = 0;
  for (int r = 0; r < world.world_size(); ++r) {
    if (r == rank) first = total;
    total += counts[static_cast<size_t>(r)];
  }
  Shape shape = x_shape_of_one_row;
  shape[0] = total;
  const int64_t C = shape.back();
  const int64_t row = shape_numel(shape) / total;
  const double momentum = 0.2, eps = 1e-4;

  const Tensor x_all = random_tensor(shape, dtype, Device::cpu(), 31, -2.0, 3.0);
  const Tensor gy_all = random_tensor(shape, dtype, Device::cpu(), 32);
  const Tensor gamma0 = random_tensor({C}, dtype, Device::cpu(), 33, 0.5, 1.5);
  const Tensor beta0 = random_tensor({C}, dtype, Device::cpu(), 34);
  const Tensor mean0 = random_tensor({C}, dtype, Device::cpu(), 35);
  const Tensor var0 = random_tensor({C}, dtype, Device::cpu(), 36, 0.5, 1.5);
  auto copy = [](const Tensor& t) {
    Tensor c = Tensor::empty(t.shape(), t.dtype());
    c.copy_from(t);
    return c;
  };

  auto run = [&](bool sync) {
    Tensor x = leaf(sync ? slice_rows(x_all, first, counts[static_cast<size_t>(rank)]) : copy(x_all));
    Tensor gy = sync ? slice_rows(gy_all, first, counts[static_cast<size_t>(rank)]) : copy(gy_all);
    Tensor gamma = leaf(copy(gamma0)), beta = leaf(copy(beta0));
    Tensor running_mean = copy(mean0), running_var = copy(var0);
    Tensor y;
    if (sync) {
      y = sync_batch_norm(x, gamma, beta, running_mean, running_var, world, momentum, eps);
    } else {
      y = shape.size() == 4 ? batch_norm2d(x, gamma, beta, running_mean, running_var, true, momentum, eps)
                            : batch_norm1d(x, gamma, beta, running_mean, running_var, true, momentum, eps);
    }
    backward(y, gy);
    Tensor dgamma = gamma.grad(), dbeta = beta.grad();
    if (sync) {
      // dgamma, dbeta are the local sums: the data-parallel gradient all-reduce adds them.
      world.all_reduce(dgamma, comm::ReduceOp::sum);
      world.all_reduce(dbeta, comm::ReduceOp::sum);
    }
    return BnResult{y.to_host_doubles(),     x.grad().to_host_doubles(),     dgamma.to_host_doubles(),
                   dbeta.to_host_doubles(), running_mean.to_host_doubles(), running_var.to_host_doubles()};
  };
  const BnResult want = run(false);
  const BnResult got = run(true);

  const int64_t mine = counts[static_cast<size_t>(rank)];
  CAPTURE(rank);
  CHECK(max_relative_error(rows_of(want.y, row, first, mine), got.y) <= tol);
  CHECK(max_relative_error(rows_of(want.gx, row, first, mine), got.gx) <= tol);
  CHECK(max_relative_error(want.dgamma, got.dgamma) <= tol);
  CHECK(max_relative_error(want.dbeta, got.dbeta) <= tol);
  CHECK(max_relative_error(want.running_mean, got.running_mean) <= tol);
  CHECK(max_relative_error(want.running_var, got.running_var) <= tol);
}

}  // namespace

TEST_SUITE("batchnorm" * rsd::test::on_mpi()) {
  TEST_CASE("sync_batch_norm over unequal slices equals batch_norm on the whole batch") {
    const int world = mpi_world().world_size();
    std::vector<int64_t> images, rows;
    for (int r = 0; r < world; ++r) {
      images.push_back(2 + r);  // (N, H, W, C): 2, 3, 4 images
      rows.push_back(3 * r);    // (N, C): 0, 3, 6 rows: rank 0 holds none
    }
    for (DType dtype : {DType::f32, DType::f64}) {
      CAPTURE(dtype_name(dtype));
      const double tol = dtype == DType::f32 ? 1e-6 : 1e-10;
      check_against_whole_batch({1, 3, 5, 7}, images, dtype, tol);
      check_against_whole_batch({1, 13}, rows, dtype, tol);
    }
  }

  TEST_CASE("sync_batch_norm gives every rank the same statistics, bit for bit, also far from zero") {
    // Values 1e6 + U(0, 1): a sum of squares would lose the variance (E[x^2] - E[x]^2 cancels 12
    // of f64's 16 digits); the ranks' moments merged by Chan's formula keep it. momentum 1: the
    // running statistics are the batch mean and unbiased variance themselves.
    comm::Communicator& world = mpi_world();
    const int W = world.world_size(), rank = world.rank();
    const int64_t C = 5;
    int64_t total = 0, first = 0;
    for (int r = 0; r < W; ++r) {
      if (r == rank) first = total;
      total += 3 + r;
    }
    const std::vector<double> all = random_tensor({total, C}, DType::f64, Device::cpu(), 41, 0.0, 1.0).to_host_doubles();
    std::vector<double> mine;
    for (int64_t i = first * C; i < (first + 3 + rank) * C; ++i) mine.push_back(1e6 + all[static_cast<size_t>(i)]);
    const Tensor x = Tensor::from_vector(mine, {3 + rank, C}, DType::f64);
    const Tensor gamma = Tensor::full({C}, 1.0, DType::f64), beta = Tensor::zeros({C}, DType::f64);
    Tensor running_mean = Tensor::zeros({C}, DType::f64), running_var = Tensor::zeros({C}, DType::f64);
    sync_batch_norm(x, gamma, beta, running_mean, running_var, world, 1.0, 1e-5);
    // The whole batch's mean and unbiased variance by two passes over the same values.
    for (int64_t c = 0; c < C; ++c) {
      double mean = 0.0, m2 = 0.0;
      for (int64_t i = 0; i < total; ++i) mean += 1e6 + all[static_cast<size_t>(i * C + c)];
      mean /= static_cast<double>(total);
      for (int64_t i = 0; i < total; ++i) m2 += std::pow(1e6 + all[static_cast<size_t>(i * C + c)] - mean, 2);
      CAPTURE(c);
      CHECK(std::fabs(running_var.to_host_doubles()[static_cast<size_t>(c)] / (m2 / (total - 1)) - 1.0) <= 1e-9);
      CHECK(std::fabs(running_mean.to_host_doubles()[static_cast<size_t>(c)] / mean - 1.0) <= 1e-15);
    }
    for (const Tensor* t : {&running_mean, &running_var}) {
      const std::vector<double> gathered = world.all_gather(t->view({1, C})).to_host_doubles();
      for (int r = 1; r < W; ++r)
        CHECK(std::vector<double>(gathered.begin() + r * C, gathered.begin() + (r + 1) * C) ==
              std::vector<double>(gathered.begin(), gathered.begin() + C));
    }
  }

  TEST_CASE("sync_batch_norm refuses one value per channel over all ranks, on every rank alike") {
    comm::Communicator& world = mpi_world();
    // Rank 0 holds one row, the others none: one value per channel in total.
    const int64_t mine = world.rank() == 0 ? 1 : 0;
    Tensor x = Tensor::zeros({mine, 4}, DType::f64);
    Tensor gamma = Tensor::full({4}, 1.0, DType::f64), beta = Tensor::zeros({4}, DType::f64);
    Tensor running_mean = Tensor::zeros({4}, DType::f64), running_var = Tensor::full({4}, 1.0, DType::f64);
    CHECK_THROWS_WITH_AS(sync_batch_norm(x, gamma, beta, running_mean, running_var, world),
                         doctest::Contains("more than 1 value per channel over all ranks, got 1 in total"), Error);
    tape().clear();
    // Every rank threw after the forward's one collective; the world is still in step.
    world.barrier();
  }
}
