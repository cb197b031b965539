#include "tests/op_cases.h"

namespace rsd::test {

std::vector<OpCase>& op_cases() {
  static std::vector<OpCase> cases;
  return cases;
}

std::vector<Tensor> make_inputs(const OpCase& c, DType dtype, Device device, uint64_t seed) {
  std::vector<Tensor> inputs;
  for (size_t k = 0; k < c.inputs.size(); ++k) {
    const InputSpec& spec = c.inputs[k];
    const uint64_t input_seed = seed * 1000003u + k;
    if (spec.kind == InputSpec::Kind::labels) {
      inputs.push_back(random_labels(spec.shape[0], spec.classes, device, input_seed));
      continue;
    }
    // f32-kept inputs still follow an f64 run: the gradient checks are all-f64.
    const DType input_dtype = (c.follows_run_dtype(k) || dtype == DType::f64) ? dtype : DType::f32;
    // Values are drawn in f64 and converted, so every dtype sees the same numbers up to rounding.
    Tensor t = random_tensor(spec.shape, input_dtype, device, input_seed, spec.lo, spec.hi);
    if (spec.differentiable) t.set_requires_grad(true);
    inputs.push_back(t);
  }
  return inputs;
}

}  // namespace rsd::test
