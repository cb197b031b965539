// Cases for info_nce_loss: square and rectangular (with an offset) problems, symmetric and
// row-only, sizes past the fast CPU backend's column blocks, tau differentiable (kept f32 in bf16 runs) or constant, both CUDA kernels. Sizes stay
// small: the gradient check runs the op twice per input element.
#include "engine/ops/info_nce.h"
#include "tests/support/op_cases.h"

using rsd::Tensor;
using rsd::test::InputSpec;
using rsd::test::OpCase;

namespace {

struct NceCase {
  int64_t n, m, offset, d;
  bool symmetric;
  bool learn_tau;
  rsd::Variant variant = rsd::Variant::fused;
};

OpCase info_nce_case(const NceCase& c) {
  const std::string label =
      rsd::str_cat("N", c.n, " M", c.m, " offset ", c.offset, " D", c.d, c.symmetric ? " symmetric" : " row-only",
                   c.learn_tau ? " tau learned" : " tau fixed", " ", rsd::variant_name(c.variant));
  const InputSpec tau = c.learn_tau ? InputSpec::values({1}, 0.05, 0.2) : InputSpec::constant({1}, 0.05, 0.2);
  rsd::InfoNceOptions opt;
  opt.symmetric = c.symmetric;
  opt.variant = c.variant;
  const int64_t offset = c.offset;
  OpCase oc("info_nce_loss", label, {InputSpec::values({c.n, c.d}), InputSpec::values({c.m, c.d}), tau},
            [offset, opt](const std::vector<Tensor>& in) { return rsd::info_nce_loss(in[0], in[1], in[2], offset, opt); });
  return oc.keep_f32(2);
}

}  // namespace

RSD_OP_CASES(info_nce) {
  const auto plain = rsd::Variant::plain;
  for (const NceCase& c : {NceCase{1, 1, 0, 3, true, true}, NceCase{1, 1, 0, 64, false, false},
                           NceCase{3, 3, 0, 64, true, true}, NceCase{3, 3, 0, 130, false, false},
                           NceCase{33, 33, 0, 3, true, true}, NceCase{33, 33, 0, 64, false, true},
                           NceCase{3, 7, 4, 64, true, true}, NceCase{3, 7, 4, 3, false, false},
                           NceCase{5, 12, 0, 130, true, false}, NceCase{5, 12, 0, 3, false, true},
                           // Past the fast CPU backend's 128-column blocks: positives that start in
                           // one block and end in the next, and a last block that is partial.
                           NceCase{40, 300, 100, 5, true, true}, NceCase{130, 130, 0, 3, true, false},
                           NceCase{7, 260, 250, 3, false, true},
                           NceCase{3, 7, 4, 64, true, true, plain}, NceCase{33, 33, 0, 3, false, true, plain},
                           NceCase{5, 12, 7, 130, true, false, plain}})
    cases.push_back(info_nce_case(c));
}

// A global batch of 64 samples per batch unit, 256-dimensional projections, symmetric, tau learned;
// `shape.variant` picks the CUDA implementation (the CPU has one).
RSD_OP_BENCH_CASES(info_nce) {
  const int64_t n = 64 * shape.batch, d = 256;
  OpCase c = info_nce_case({n, n, 0, d, true, true, shape.variant});
  cases.push_back(c.bench(2.0 * n * n * d, 0.0, {{"offset", 0}, {"symmetric", 1}, {"eps", 1e-12}}));
}
