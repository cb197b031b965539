// Cases for relu, gelu, exp, scale, add, add_relu, sum, mean, cast, to_device and reshape.
#include "engine/ops/convert.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "tests/support/op_cases.h"

using rsd::Shape;
using rsd::Tensor;
using rsd::test::InputSpec;
using rsd::test::OpCase;

RSD_OP_CASES(elementwise) {
  for (const Shape& s : {Shape{1}, Shape{7}, Shape{3, 33}, Shape{2, 7, 5, 3}}) {
    const std::string label = rsd::shape_str(s);
    cases.push_back(OpCase("relu", label, {InputSpec::values(s)}, [](const std::vector<Tensor>& in) { return rsd::relu(in[0]); }));
    cases.push_back(OpCase("gelu", label, {InputSpec::values(s, -4.0, 4.0)},
                           [](const std::vector<Tensor>& in) { return rsd::gelu(in[0]); }));
    cases.push_back(OpCase("exp", label, {InputSpec::values(s)}, [](const std::vector<Tensor>& in) { return rsd::exp(in[0]); }));
    cases.push_back(OpCase("scale", label, {InputSpec::values(s)},
                           [](const std::vector<Tensor>& in) { return rsd::scale(in[0], -0.75); }));
    cases.push_back(OpCase("add", label, {InputSpec::values(s), InputSpec::values(s)},
                     [](const std::vector<Tensor>& in) { return rsd::add(in[0], in[1]); }));
    cases.push_back(OpCase("add_relu", label, {InputSpec::values(s), InputSpec::values(s)},
                           [](const std::vector<Tensor>& in) { return rsd::add_relu(in[0], in[1]); }));
    cases.push_back(OpCase("sum", label, {InputSpec::values(s)}, [](const std::vector<Tensor>& in) { return rsd::sum(in[0]); }));
    cases.push_back(OpCase("mean", label, {InputSpec::values(s)}, [](const std::vector<Tensor>& in) { return rsd::mean(in[0]); }));
  }
  // A large reduction: several blocks and the second stage on CUDA.
  cases.push_back(OpCase("sum", "[1000003]", {InputSpec::values({1000003})},
                   [](const std::vector<Tensor>& in) { return rsd::sum(in[0]); }).bf16_bound(1e-4));
  cases.push_back(OpCase("reshape", "[6,35]->[2,3,5,7]", {InputSpec::values({6, 35})},
                   [](const std::vector<Tensor>& in) { return rsd::reshape(in[0], {2, 3, 5, 7}); }));
  // Round trips through other dtypes and the host: the gradient must come back through both.
  cases.push_back(OpCase("cast", "f32 round trip [3,33]", {InputSpec::values({3, 33})}, [](const std::vector<Tensor>& in) {
                     const rsd::DType other = in[0].dtype() == rsd::DType::f32 ? rsd::DType::f64 : rsd::DType::f32;
                     return rsd::cast(rsd::cast(in[0], other), in[0].dtype());
                   }).gradcheck(1e-3, 1e-4));  // the f64 run rounds through f32
  cases.push_back(OpCase("to_device", "host round trip [7,5]", {InputSpec::values({7, 5})}, [](const std::vector<Tensor>& in) {
                     const rsd::Device home = in[0].device();
                     return rsd::relu(rsd::to_device(rsd::to_device(in[0], rsd::Device::cpu()), home));
                   }));
}

// A stage-1 ResNet activation (b, 56, 56, 64): memory-bound, elements read + written.
RSD_OP_BENCH_CASES(elementwise) {
  const Shape act{shape.batch, 56, 56, 64};
  const double n = static_cast<double>(rsd::shape_numel(act));
  cases.push_back(OpCase("relu", rsd::shape_str(act), {InputSpec::values(act).nhwc()},
                         [](const std::vector<Tensor>& in) { return rsd::relu(in[0]); })
                      .bench(0.0, 2 * n));
  cases.push_back(OpCase("gelu", rsd::shape_str(act), {InputSpec::values(act).nhwc()},
                         [](const std::vector<Tensor>& in) { return rsd::gelu(in[0]); })
                      .bench(0.0, 2 * n));
  cases.push_back(OpCase("add", rsd::shape_str(act), {InputSpec::values(act).nhwc(), InputSpec::values(act).nhwc()},
                         [](const std::vector<Tensor>& in) { return rsd::add(in[0], in[1]); })
                      .bench(0.0, 3 * n));
  cases.push_back(OpCase("add_relu", rsd::shape_str(act), {InputSpec::values(act).nhwc(), InputSpec::values(act).nhwc()},
                         [](const std::vector<Tensor>& in) { return rsd::add_relu(in[0], in[1]); })
                      .bench(0.0, 3 * n));
}
