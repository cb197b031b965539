// Float64 central-difference gradient checks of every op in the op test matrix, on the CPU.
#include <doctest/doctest.h>

#include <cstdio>
#include <map>
#include <set>

#include "engine/autograd.h"
#include "tests/support/op_cases.h"

using namespace rsd;
using namespace rsd::test;

TEST_SUITE("gradcheck") {
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
