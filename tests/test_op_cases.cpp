// Every op of the op test matrix (tests/support/op_cases.h) on every backend: float64
// central-difference gradient checks of the reference CPU kernels, and each other backend (oneDNN on
// the CPU, CUDA) against the reference on fresh random inputs, its outputs and gradients poisoned
// (NaN) before each run so an element it fails to write shows up, compared by normalized mean
// squared error: <= 1e-6 in f32, the case's documented bound in bf16.
#include <doctest/doctest.h>

#include <cstdio>
#include <map>
#include <set>

#include "engine/autograd.h"
#include "engine/op.h"
#include "engine/ops/convert.h"
#include "tests/support/op_cases.h"
#include "tests/support/runner.h"

using namespace rsd;
using namespace rsd::test;

TEST_SUITE("ops") {
  TEST_CASE("every op's gradients match central differences in float64") {
    std::map<std::string, int> checked;
    uint64_t seed = 1;
    for (const OpCase& c : op_cases()) {
      bool any_differentiable = false;
      for (const InputSpec& s : c.inputs) any_differentiable = any_differentiable || s.differentiable;
      if (!any_differentiable) continue;
      if (c.op == "sum" && c.inputs[0].shape[0] > 100000) continue;  // 2 forward passes per element: too slow
      CAPTURE(c.op);
      CAPTURE(c.label);
      const CpuBackendScope reference(Backend::cpu);
      const std::vector<Tensor> inputs = make_inputs(c, DType::f64, Device::cpu(), seed++);
      const GradCheckReport r = check_gradients(c.run, inputs, seed * 7919, c.grad_eps);
      INFO(r.worst);
      CHECK(r.max_error <= c.grad_tol);
      checked[c.op]++;
    }
    std::printf("gradcheck (CPU, float64): ");
    for (const auto& [op, n] : checked) std::printf("%s x%d  ", op.c_str(), n);
    std::printf("\n");
    CHECK(checked.size() >= 10);
  }
}

namespace {

struct RunResult {
  std::vector<double> output;
  std::vector<std::vector<double>> grads;  // one per differentiable input (empty vector: none)
};

// Runs a case forward and backward with a fixed seed gradient. The inputs are drawn in
// `input_dtype` and converted to `dtype`, so a bf16 run and its f32 CPU reference see the same
// (bf16-rounded) values and the comparison measures only the op's own arithmetic.
// On the CPU, `cpu_backend` runs the kernels.
RunResult run_case(const OpCase& c, DType dtype, Device device, uint64_t seed, DType input_dtype,
                   Backend cpu_backend = Backend::cpu) {
  const CpuBackendScope backend(cpu_backend);
  std::vector<Tensor> inputs = make_inputs(c, input_dtype, device, seed);
  for (Tensor& t : inputs) {
    if (t.dtype() != input_dtype || input_dtype == dtype) continue;
    Tensor converted = Tensor::empty(t.shape(), dtype, device);
    converted.copy_from(t);
    converted.set_requires_grad(t.requires_grad());
    t = converted;
  }
  set_poison_new_tensors(true);
  Tensor y = c.run(inputs);
  // The seed gradient too is drawn in the input dtype, so both runs start from the same values.
  Tensor gy = random_tensor(y.shape(), input_dtype, device, seed + 17);
  if (gy.dtype() != y.dtype()) {
    Tensor converted = Tensor::empty(y.shape(), y.dtype(), device);
    converted.copy_from(gy);
    gy = converted;
  }
  backward(y, gy);
  set_poison_new_tensors(false);
  RunResult r;
  r.output = y.to_host_doubles();
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (!inputs[k].requires_grad()) continue;
    r.grads.push_back(inputs[k].grad().defined() ? inputs[k].grad().to_host_doubles() : std::vector<double>{});
  }
  return r;
}

void compare(const OpCase& c, const RunResult& ref, const RunResult& got, double bound, const char* what) {
  CAPTURE(c.op);
  CAPTURE(c.label);
  CAPTURE(what);
  const double e = nmse(ref.output, got.output);
  INFO("output nmse " << e);
  CHECK(e <= bound);
  REQUIRE(ref.grads.size() == got.grads.size());
  for (size_t k = 0; k < ref.grads.size(); ++k) {
    const double g = nmse(ref.grads[k], got.grads[k]);
    INFO("gradient of differentiable input " << k << " nmse " << g);
    CHECK(g <= bound);
  }
}

}  // namespace

TEST_SUITE("ops") {
  TEST_CASE("every op on oneDNN matches the reference CPU kernels (f32)" *
            doctest::skip(!cpu_backend_available(Backend::onednn))) {
    std::map<std::string, int> covered;
    uint64_t seed = 3000;
    for (const OpCase& c : op_cases()) {
      ++seed;
      const RunResult reference = run_case(c, DType::f32, Device::cpu(), seed, DType::f32, Backend::cpu);
      compare(c, reference, run_case(c, DType::f32, Device::cpu(), seed, DType::f32, Backend::onednn), 1e-6,
              "onednn f32");
      covered[c.op]++;
    }
    std::printf("oneDNN vs reference (f32): ");
    for (const auto& [op, n] : covered) std::printf("%s x%d  ", op.c_str(), n);
    std::printf("\n");
  }
}

TEST_SUITE("ops" * rsd::test::on_gpu()) {
  TEST_CASE("every op on CUDA matches the CPU backend (f32 and bf16)") {
    std::map<std::string, std::pair<int, int>> covered;  // op -> (f32 cases, bf16 cases)
    uint64_t seed = 1000;
    for (const OpCase& c : op_cases()) {
      ++seed;
      const RunResult cpu = run_case(c, DType::f32, Device::cpu(), seed, DType::f32);
      compare(c, cpu, run_case(c, DType::f32, Device::cuda(0), seed, DType::f32), 1e-6, "cuda f32");
      covered[c.op].first++;
      if (c.bf16) {
        const RunResult cpu_rounded = run_case(c, DType::f32, Device::cpu(), seed, DType::bf16);
        compare(c, cpu_rounded, run_case(c, DType::bf16, Device::cuda(0), seed, DType::bf16), c.bf16_nmse, "cuda bf16");
        covered[c.op].second++;
      }
    }
    std::printf("\n%-24s %10s %10s\n", "op", "cuda f32", "cuda bf16");
    for (const auto& [op, n] : covered) std::printf("%-24s %10d %10d\n", op.c_str(), n.first, n.second);
  }
}
