// Cases for batch_norm2d, batch_norm1d (and their _relu forms), max_pool2d, global_avg_pool, l2_normalize and
// softmax_cross_entropy.
#include "engine/ops/batchnorm.h"
#include "engine/ops/cross_entropy.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/l2norm.h"
#include "engine/ops/pool.h"
#include "tests/support/op_cases.h"

using rsd::Shape;
using rsd::Tensor;
using rsd::test::InputSpec;
using rsd::test::OpCase;

namespace {

// Inputs x, gamma, beta, running_mean, running_var; the per-channel ones stay f32 in a bf16 run.
// The running statistics are updated in place by a training run; every run gets fresh inputs.
std::vector<InputSpec> batch_norm_inputs(const Shape& x_shape) {
  const Shape c{x_shape.back()};
  InputSpec x = InputSpec::values(x_shape);
  if (x_shape.size() == 4) x.nhwc();
  return {x, InputSpec::values(c), InputSpec::values(c), InputSpec::constant(c), InputSpec::constant(c, 0.5, 1.5)};
}

// relu: the fused batch_norm*_relu op.
OpCase batch_norm_case(const Shape& x_shape, bool training, double eps = 1e-5, bool relu = false) {
  const bool is_2d = x_shape.size() == 4;
  const std::string label = rsd::shape_str(x_shape) + (training ? " training" : " eval");
  const std::string op = rsd::str_cat(is_2d ? "batch_norm2d" : "batch_norm1d", relu ? "_relu" : "");
  OpCase c(op, label, batch_norm_inputs(x_shape), [is_2d, training, eps, relu](const std::vector<Tensor>& in) {
    Tensor running_mean = in[3], running_var = in[4];
    const auto bn = is_2d ? (relu ? rsd::batch_norm2d_relu : rsd::batch_norm2d)
                          : (relu ? rsd::batch_norm1d_relu : rsd::batch_norm1d);
    return bn(in[0], in[1], in[2], running_mean, running_var, training, 0.1, eps);
  });
  c.attrs = {{"training", training ? 1.0 : 0.0}, {"momentum", 0.1}, {"eps", eps}};
  return c.keep_f32(1).keep_f32(2).keep_f32(3).keep_f32(4);
}

OpCase max_pool_case(const Shape& x_shape, int kernel, int stride, int padding) {
  const std::string label = rsd::str_cat(rsd::shape_str(x_shape), " k", kernel, " s", stride, " p", padding);
  OpCase c("max_pool2d", label, {InputSpec::values(x_shape).nhwc()},
           [kernel, stride, padding](const std::vector<Tensor>& in) {
             return rsd::max_pool2d(in[0], kernel, stride, padding);
           });
  c.attrs = {{"kernel", kernel}, {"stride", stride}, {"padding", padding}};
  return c;
}

}  // namespace

RSD_OP_CASES(norm_pool) {
  for (const Shape& s : {Shape{2, 3, 5, 7}, Shape{1, 1, 3, 3}, Shape{4, 7, 7, 33}}) {
    cases.push_back(batch_norm_case(s, true));
    cases.push_back(batch_norm_case(s, false));
  }
  for (const Shape& s : {Shape{3, 5}, Shape{33, 130}, Shape{2, 1}}) cases.push_back(batch_norm_case(s, false));
  for (const bool training : {true, false}) {
    cases.push_back(batch_norm_case({4, 7, 7, 33}, training, 1e-5, true));
    cases.push_back(batch_norm_case({33, 130}, training, 1e-5, true));
  }
  cases.push_back(batch_norm_case({3, 5}, true));
  cases.push_back(batch_norm_case({33, 130}, true));
  // With two rows the training gradient of x is (g1 - g2) / 2 * gamma * invstd * eps / (var + eps):
  // vanishing for a small eps, so rounding noise would dominate the parity comparison. A large eps
  // keeps it well-conditioned; the math checked is the same.
  cases.push_back(batch_norm_case({2, 1}, true, 0.5));

  cases.push_back(max_pool_case({2, 7, 7, 3}, 3, 2, 1));
  cases.push_back(max_pool_case({1, 9, 8, 5}, 3, 2, 1));
  cases.push_back(max_pool_case({3, 8, 8, 4}, 2, 2, 0));

  for (const Shape& s : {Shape{2, 7, 7, 3}, Shape{1, 1, 1, 33}})
    cases.push_back(OpCase("global_avg_pool", rsd::shape_str(s), {InputSpec::values(s)},
                           [](const std::vector<Tensor>& in) { return rsd::global_avg_pool(in[0]); }));

  for (const Shape& s : {Shape{1, 3}, Shape{7, 64}, Shape{33, 130}})
    cases.push_back(OpCase("l2_normalize", rsd::shape_str(s), {InputSpec::values(s)},
                           [](const std::vector<Tensor>& in) { return rsd::l2_normalize(in[0]); }));
  // relu zeroes about a quarter of these two-element rows entirely: the zero-row branch (y = 0, a
  // finite gradient) runs on every backend. The numerically delicate zero-row gradient itself is
  // masked by relu here; tests/test_ops_norm_pool.cpp checks it by hand.
  cases.push_back(OpCase("l2_normalize", "relu [33,2] with zero rows", {InputSpec::values({33, 2})},
                         [](const std::vector<Tensor>& in) { return rsd::l2_normalize(rsd::relu(in[0])); }));

  for (const auto& [n, k] : {std::pair<int64_t, int>{1, 3}, {7, 10}, {33, 130}})
    cases.push_back(OpCase("softmax_cross_entropy", rsd::str_cat("[", n, ",", k, "]"),
                           {InputSpec::values({n, k}, -3.0, 3.0), InputSpec::labels(n, k)},
                           [](const std::vector<Tensor>& in) { return rsd::softmax_cross_entropy(in[0], in[1]); }));
}

// The network's shapes: batch norm and max pooling of ResNet's stem and stage 1, the global pool
// of its last stage, BYOL's normalized projections (64 views per sample) and a 1000-class head.
RSD_OP_BENCH_CASES(norm_pool) {
  const int64_t b = shape.batch;
  const Shape act{b, 56, 56, 64}, pooled{b, 112, 112, 64}, last{b, 7, 7, 512}, proj{64 * b, 256}, logits{8 * b, 1000};
  auto n = [](const Shape& s) { return static_cast<double>(rsd::shape_numel(s)); };
  cases.push_back(batch_norm_case(act, true).bench(0.0, 3 * n(act), {{"training", 1}, {"momentum", 0.1}, {"eps", 1e-5}}));
  OpCase pool = max_pool_case(pooled, 3, 2, 1);
  cases.push_back(pool.bench(0.0, 1.25 * n(pooled), pool.attrs));
  cases.push_back(OpCase("global_avg_pool", rsd::shape_str(last), {InputSpec::values(last).nhwc()},
                         [](const std::vector<Tensor>& in) { return rsd::global_avg_pool(in[0]); })
                      .bench(0.0, n(last)));
  cases.push_back(OpCase("l2_normalize", rsd::shape_str(proj), {InputSpec::values(proj)},
                         [](const std::vector<Tensor>& in) { return rsd::l2_normalize(in[0]); })
                      .bench(0.0, 2 * n(proj), {{"eps", 1e-12}}));
  cases.push_back(OpCase("softmax_cross_entropy", rsd::shape_str(logits),
                         {InputSpec::values(logits, -3.0, 3.0), InputSpec::labels(logits[0], 1000)},
                         [](const std::vector<Tensor>& in) { return rsd::softmax_cross_entropy(in[0], in[1]); })
                      .bench(0.0, n(logits)));
}
