// sync_batch_norm on one process (world size 1, the "single" communicator): it must equal
// batch_norm2d / batch_norm1d in training bit for bit (outputs, every gradient, running
// statistics), pass the float64 gradient check, leave a BatchNorm layer unchanged under a
// SyncBatchNormScope, and refuse bad uses with errors that name the op. The multi-rank behaviour
// is tested under mpirun in tests/mpi/test_mpi_sync_bn.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/autograd.h"
#include "engine/comm/communicator.h"
#include "engine/ops/batchnorm.h"
#include "engine/ops/batchnorm.h"
#include "models/layers.h"
#include "tests/support/harness.h"

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

// f() must throw rsd::Error whose message contains every part.
template <typename F>
void check_error(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    FAIL("no rsd::Error thrown");
  } catch (const Error& e) {
    const std::string message = e.what();
    INFO(message);
    for (const std::string& part : parts) CHECK(message.find(part) != std::string::npos);
  }
  tape().clear();
}

}  // namespace

TEST_SUITE("ops") {
  TEST_CASE("sync_batch_norm on one rank equals batch_norm2d / batch_norm1d in training, bit for bit") {
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
}

TEST_SUITE("gradcheck") {
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
}

TEST_SUITE("models") {
  TEST_CASE("BatchNorm under a SyncBatchNormScope on one rank equals BatchNorm without it") {
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
}

TEST_SUITE("errors") {
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
