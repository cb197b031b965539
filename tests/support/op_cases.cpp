#include "tests/support/op_cases.h"

#include <nlohmann/json.hpp>

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

std::vector<BenchCaseMaker>& bench_case_makers() {
  static std::vector<BenchCaseMaker> makers;
  return makers;
}

std::vector<OpCase> bench_cases(const BenchShape& shape) {
  std::vector<OpCase> cases;
  for (BenchCaseMaker make : bench_case_makers()) make(shape, cases);
  return cases;
}

std::string bench_cases_json(const std::vector<OpCase>& cases, const BenchShape& shape) {
  nlohmann::json list = nlohmann::json::array();
  for (const OpCase& c : cases) {
    nlohmann::json inputs = nlohmann::json::array();
    for (size_t k = 0; k < c.inputs.size(); ++k) {
      const InputSpec& in = c.inputs[k];
      const bool labels = in.kind == InputSpec::Kind::labels;
      inputs.push_back({{"shape", in.shape},
                        {"kind", labels ? "labels" : "values"},
                        {"layout", in.channels_last ? "nhwc" : "plain"},
                        {"requires_grad", in.differentiable},
                        {"f32", !c.follows_run_dtype(k)},
                        {"lo", in.lo},
                        {"hi", in.hi},
                        {"classes", in.classes}});
    }
    nlohmann::json attrs = nlohmann::json::object();
    for (const auto& [name, value] : c.attrs) attrs[name] = value;
    list.push_back({{"op", c.op}, {"label", c.label}, {"inputs", inputs}, {"attrs", attrs}, {"flops", c.flops},
                    {"elements", c.elements}});
  }
  const nlohmann::json doc = {{"format", "rsd-op-cases"}, {"batch", shape.batch},
                              {"variant", variant_name(shape.variant)}, {"cases", list}};
  return doc.dump(2) + "\n";
}

}  // namespace rsd::test
