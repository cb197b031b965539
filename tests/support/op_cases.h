// The op matrix, in the spirit of ggml's test-backend-ops: every op contributes cases (op name,
// input shapes, a function from inputs to one output), in ONE file per op family in tests/cases/.
// The same list drives the float64 gradient checks on the CPU and the parity of
// every non-reference backend against the CPU reference (both in tests/test_op_cases.cpp), the benchmark
// benchmarks/ops_bench, and its PyTorch twin (benchmarks/torch_ref/ops_ref.py reads the benchmark
// cases that ops_bench --cases-json exports). Test sizes include odd ones (1, 3, 7, 33) so no
// tile size divides them; benchmark sizes are the network's (a function of the batch).
//
// A file in tests/cases/ registers its op's cases with
//   RSD_OP_CASES(relu) { cases.push_back(...); }
//   RSD_OP_BENCH_CASES(relu) { cases.push_back(OpCase(...).bench(flops, elements, {...attrs})); }
// where the benchmark block sees `shape` (BenchShape: the batch and the variant asked for).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "engine/op.h"
#include "engine/tensor.h"
#include "tests/support/harness.h"

namespace rsd::test {

struct InputSpec {
  enum class Kind { values, labels };
  Shape shape;
  Kind kind = Kind::values;
  bool differentiable = true;  // gradients are checked and compared for this input
  double lo = -1.0, hi = 1.0;  // value range (kind values)
  int classes = 0;             // label range (kind labels)
  bool channels_last = false;  // (N, H, W, C) or (K, R, S, C): PyTorch's twin takes (N, C, H, W) channels_last

  InputSpec& nhwc() {
    channels_last = true;
    return *this;
  }

  static InputSpec values(Shape s, double lo = -1.0, double hi = 1.0) {
    InputSpec i;
    i.shape = std::move(s);
    i.lo = lo;
    i.hi = hi;
    return i;
  }
  // An input the op reads (or updates, like running statistics) but does not differentiate.
  static InputSpec constant(Shape s, double lo = -1.0, double hi = 1.0) {
    InputSpec i = values(std::move(s), lo, hi);
    i.differentiable = false;
    return i;
  }
  static InputSpec labels(int64_t n, int classes) {
    InputSpec i;
    i.shape = {n};
    i.kind = Kind::labels;
    i.differentiable = false;
    i.classes = classes;
    return i;
  }
};

struct OpCase {
  OpCase(std::string op_name, std::string case_label, std::vector<InputSpec> case_inputs, OpFunction fn)
      : op(std::move(op_name)), label(std::move(case_label)), inputs(std::move(case_inputs)), run(std::move(fn)) {}

  std::string op;                 // e.g. "conv2d"
  std::string label;              // e.g. "N2 8x8 C3 -> K5 k3 s2 p1"
  std::vector<InputSpec> inputs;
  OpFunction run;                 // the op under test, on whatever device and dtype the inputs have
  bool bf16 = true;               // also compared in bf16 on CUDA
  double bf16_nmse = 1e-4;        // bound for bf16 outputs and gradients vs the CPU f32 run
  std::vector<bool> f32_inputs;   // inputs kept in f32 whatever the run dtype (e.g. BN parameters)
  double grad_eps = 1e-6;         // central-difference step of the float64 gradient check
  double grad_tol = 1e-6;         // its bound on |analytic - numeric| / max(1, |numeric|)
  // Benchmark cases: forward multiply-adds x 2 (compute-bound ops), or elements read and written
  // by the forward (memory-bound ops: times the dtype's size gives bytes), and the op's non-tensor
  // arguments for its PyTorch twin (ops_ref.py), by name.
  double flops = 0.0;
  double elements = 0.0;
  std::vector<std::pair<std::string, double>> attrs;

  // Builder-style adjustments: cases.push_back(OpCase(...).bf16_bound(1e-3).keep_f32(2));
  OpCase& bf16_bound(double b) { bf16_nmse = b; return *this; }
  OpCase& no_bf16() { bf16 = false; return *this; }
  // For cases that pass through a lower precision even in an f64 run (a cast to f32).
  OpCase& gradcheck(double eps, double tol) {
    grad_eps = eps;
    grad_tol = tol;
    return *this;
  }
  OpCase& keep_f32(size_t input) {
    if (f32_inputs.size() <= input) f32_inputs.resize(input + 1, false);
    f32_inputs[input] = true;
    return *this;
  }
  OpCase& bench(double forward_flops, double forward_elements, std::vector<std::pair<std::string, double>> a = {}) {
    flops = forward_flops;
    elements = forward_elements;
    attrs = std::move(a);
    return *this;
  }
  bool follows_run_dtype(size_t input) const { return input >= f32_inputs.size() || !f32_inputs[input]; }
};

std::vector<OpCase>& op_cases();

// What a benchmark case list is built for.
struct BenchShape {
  int64_t batch = 4;
  Variant variant = Variant::fused;  // for ops with a fused and a plain implementation
};

// Every registered benchmark case at this shape.
std::vector<OpCase> bench_cases(const BenchShape& shape);

// The benchmark cases as JSON for PyTorch's twin: op, label, inputs (shape, kind, layout,
// requires_grad, value range, classes), attrs, flops, elements.
std::string bench_cases_json(const std::vector<OpCase>& cases, const BenchShape& shape);

// Builds the inputs of a case on a device in a float dtype, reproducibly from seed.
std::vector<Tensor> make_inputs(const OpCase& c, DType dtype, Device device, uint64_t seed);

struct OpCaseRegistrar {
  explicit OpCaseRegistrar(void (*add)(std::vector<OpCase>&)) { add(op_cases()); }
};

using BenchCaseMaker = void (*)(const BenchShape&, std::vector<OpCase>&);
std::vector<BenchCaseMaker>& bench_case_makers();
struct BenchCaseRegistrar {
  explicit BenchCaseRegistrar(BenchCaseMaker make) { bench_case_makers().push_back(make); }
};

}  // namespace rsd::test

#define RSD_OP_CASES(name)                                                              \
  static void rsd_add_op_cases_##name(std::vector<::rsd::test::OpCase>& cases);         \
  static const ::rsd::test::OpCaseRegistrar rsd_op_cases_registrar_##name(              \
      &rsd_add_op_cases_##name);                                                        \
  static void rsd_add_op_cases_##name(std::vector<::rsd::test::OpCase>& cases)

#define RSD_OP_BENCH_CASES(name)                                                                            \
  static void rsd_add_bench_cases_##name(const ::rsd::test::BenchShape& shape,                              \
                                         std::vector<::rsd::test::OpCase>& cases);                          \
  static const ::rsd::test::BenchCaseRegistrar rsd_bench_cases_registrar_##name(&rsd_add_bench_cases_##name); \
  static void rsd_add_bench_cases_##name(const ::rsd::test::BenchShape& shape, std::vector<::rsd::test::OpCase>& cases)
