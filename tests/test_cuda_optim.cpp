// The fused multi-tensor CUDA steps of SGD, LARS and AdamW against the CPU reference: several
// parameters of odd sizes (one spanning several kMultiTensorChunk chunks, an empty one, an
// all-zero one for LARS's zero-norm case, excluded ones), three steps with fresh random gradients
// and different learning rates; parameters and optimizer state must agree to 1e-6 of each
// tensor's largest magnitude. Also: a steady-state CUDA step allocates nothing, and parameters
// on two devices are refused. Without a GPU every case says it was skipped and why.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/allocator.h"
#include "engine/device.h"
#include "engine/optim/adamw.h"
#include "engine/optim/lars.h"
#include "engine/optim/sgd.h"
#include "engine/params.h"
#include "kernels/optim.cuh"
#include "tests/support/harness.h"

using namespace rsd;
using namespace rsd::test;

namespace {


struct ParamSpec {
  const char* name;
  Shape shape;
  bool excluded;
  bool zeros;  // all-zero values: |p| = 0, LARS falls back to trust 1
};

const std::vector<ParamSpec>& param_specs() {
  static const std::vector<ParamSpec> specs{
      {"conv.weight", {7, 3, 3, 5}, false, false},
      {"bn.weight", {33}, true, false},
      {"big.weight", {2 * kernels::kMultiTensorChunk + 4097}, false, false},  // three chunks
      {"empty.weight", {0}, false, false},
      {"one.weight", {1}, false, false},
      {"zero.weight", {5}, false, true},
      {"fc.bias", {3}, true, false},
  };
  return specs;
}

void build_params(ParameterRegistry& reg, Device d) {
  uint64_t seed = 500;
  for (const ParamSpec& s : param_specs()) {
    Tensor v = s.zeros ? Tensor::zeros(s.shape, DType::f32, d) : random_tensor(s.shape, DType::f32, d, seed);
    reg.add(s.name, v, s.excluded);
    ++seed;
  }
}

void set_random_grads(ParameterRegistry& reg, uint64_t seed) {
  for (Parameter* p : reg.parameters()) {
    Tensor g = p->value.grad();
    g.copy_from(random_tensor(p->value.shape(), DType::f32, Device::cpu(), seed++));
  }
}

// max |ref - got| over max |ref| (0 when both are all zero).
double scaled_error(const Tensor& ref, const Tensor& got) {
  const std::vector<double> r = ref.to_host_doubles(), g = got.to_host_doubles();
  if (r.size() != g.size()) return INFINITY;
  double diff = 0.0, scale = 0.0;
  for (size_t i = 0; i < r.size(); ++i) {
    if (!std::isfinite(g[i])) return INFINITY;
    diff = std::max(diff, std::fabs(r[i] - g[i]));
    scale = std::max(scale, std::fabs(r[i]));
  }
  return diff == 0.0 ? 0.0 : diff / std::max(scale, 1e-30);
}

using MakeOptimizer = std::function<std::unique_ptr<Optimizer>(ParameterRegistry&)>;

void compare_with_cpu(const MakeOptimizer& make) {
  ParameterRegistry cpu_reg, gpu_reg;
  build_params(cpu_reg, Device::cpu());
  build_params(gpu_reg, Device::cuda(0));
  std::unique_ptr<Optimizer> cpu_opt = make(cpu_reg), gpu_opt = make(gpu_reg);
  const double lrs[] = {0.05, 0.1, 0.02};
  uint64_t seed = 9000;
  for (double lr : lrs) {
    set_random_grads(cpu_reg, seed);
    set_random_grads(gpu_reg, seed);
    seed += 100;
    cpu_opt->step(lr);
    gpu_opt->step(lr);
  }
  const std::vector<Parameter*> cpu_params = cpu_reg.parameters(), gpu_params = gpu_reg.parameters();
  for (size_t i = 0; i < cpu_params.size(); ++i) {
    CAPTURE(cpu_params[i]->name);
    const double e = scaled_error(cpu_params[i]->value, gpu_params[i]->value);
    INFO(gpu_opt->name() << " parameter error " << e);
    CHECK(e <= 1e-6);
  }
  REQUIRE(cpu_opt->state().size() == gpu_opt->state().size());
  for (size_t i = 0; i < cpu_opt->state().size(); ++i) {
    CAPTURE(cpu_opt->state()[i].first);
    const double e = scaled_error(cpu_opt->state()[i].second, gpu_opt->state()[i].second);
    INFO(gpu_opt->name() << " state error " << e);
    CHECK(e <= 1e-6);
  }
}

// A step after the first allocates nothing on the GPU or the host.
void check_steady_state(const MakeOptimizer& make) {
  ParameterRegistry reg;
  build_params(reg, Device::cuda(0));
  set_random_grads(reg, 77);
  std::unique_ptr<Optimizer> opt = make(reg);
  opt->step(0.1);
  synchronize(Device::cuda(0));
  const AllocatorStats gpu_before = pool_for(Device::cuda(0)).stats(), cpu_before = pool_for(Device::cpu()).stats();
  for (int i = 0; i < 3; ++i) opt->step(0.1);
  synchronize(Device::cuda(0));
  const AllocatorStats gpu_after = pool_for(Device::cuda(0)).stats(), cpu_after = pool_for(Device::cpu()).stats();
  CAPTURE(opt->name());
  CHECK(gpu_after.raw_allocs == gpu_before.raw_allocs);
  CHECK(gpu_after.bytes_in_use == gpu_before.bytes_in_use);
  CHECK(cpu_after.raw_allocs == cpu_before.raw_allocs);
  CHECK(cpu_after.bytes_in_use == cpu_before.bytes_in_use);
}

const MakeOptimizer kSgd = [](ParameterRegistry& r) -> std::unique_ptr<Optimizer> {
  return std::make_unique<SGD>(r, SgdOptions{0.9, 1e-2, false});
};
const MakeOptimizer kSgdNesterov = [](ParameterRegistry& r) -> std::unique_ptr<Optimizer> {
  return std::make_unique<SGD>(r, SgdOptions{0.9, 1e-2, true});
};
const MakeOptimizer kSgdPlain = [](ParameterRegistry& r) -> std::unique_ptr<Optimizer> {
  return std::make_unique<SGD>(r, SgdOptions{0.0, 1e-2, false});
};
// A large eta and weight decay so the trust ratio and the decay term both move the result.
const MakeOptimizer kLars = [](ParameterRegistry& r) -> std::unique_ptr<Optimizer> {
  return std::make_unique<LARS>(r, LarsOptions{0.9, 0.02, 1e-2});
};
const MakeOptimizer kLarsNoMomentum = [](ParameterRegistry& r) -> std::unique_ptr<Optimizer> {
  return std::make_unique<LARS>(r, LarsOptions{0.0, 0.02, 1e-2});
};
const MakeOptimizer kAdamW = [](ParameterRegistry& r) -> std::unique_ptr<Optimizer> {
  return std::make_unique<AdamW>(r, AdamWOptions{0.9, 0.999, 1e-8, 0.05});
};

}  // namespace

TEST_SUITE("optim") {

TEST_CASE("SGD on CUDA matches the CPU step (momentum, Nesterov, none)") {
  compare_with_cpu(kSgd);
  compare_with_cpu(kSgdNesterov);
  compare_with_cpu(kSgdPlain);
}

TEST_CASE("LARS on CUDA matches the CPU step (with and without momentum)") {
  compare_with_cpu(kLars);
  compare_with_cpu(kLarsNoMomentum);
}

TEST_CASE("AdamW on CUDA matches the CPU step") {
  compare_with_cpu(kAdamW);
}

TEST_CASE("a steady-state CUDA optimizer step allocates nothing") {
  check_steady_state(kSgd);
  check_steady_state(kLars);
  check_steady_state(kAdamW);
}

}  // TEST_SUITE("optim")

TEST_SUITE("errors") {

TEST_CASE("parameters on two devices are refused by the registry and the optimizers") {
  ParameterRegistry cpu_reg, gpu_reg;
  cpu_reg.add("host.weight", Tensor::zeros({3}, DType::f32), false);
  gpu_reg.add("gpu.weight", Tensor::zeros({3}, DType::f32, Device::cuda(0)), false);
  CHECK_THROWS_WITH_AS(cpu_reg.add("gpu.bias", Tensor::zeros({3}, DType::f32, Device::cuda(0)), true),
                       doctest::Contains("'gpu.bias'"), Error);
  const std::vector<Parameter*> mixed{cpu_reg.find("host.weight"), gpu_reg.find("gpu.weight")};
  CHECK_THROWS_WITH_AS(SGD(mixed, SgdOptions{}), doctest::Contains("SGD: parameter 'gpu.weight'"), Error);
  CHECK_THROWS_WITH_AS(LARS(mixed, LarsOptions{}), doctest::Contains("LARS: parameter 'gpu.weight'"), Error);
  CHECK_THROWS_WITH_AS(AdamW(mixed, AdamWOptions{}), doctest::Contains("AdamW: parameter 'gpu.weight'"), Error);
}

}  // TEST_SUITE("errors")
