// Cases for byol_cosine_loss. p is differentiated; z, the target projection, is a constant input
// (the op never gives it a gradient). The sizes reach every CUDA path of the fused kernel: groups
// of 4..32 lanes a row (D 3, 64), rows of 2 and 4 vectors a lane (D 256 in f32, 100 unaligned in
// bf16), the long-row loop (D 1032; D 130 unaligned), and single-element loads where rows are not
// 16-byte aligned (D 3, 130, 100 in bf16).
//
// bf16 bound: the default 1e-4. Both sides see the same bf16-rounded inputs; CUDA accumulates in
// f32 and keeps the loss in f32 (relative error ~1e-7), and rounds dp to bf16 once (at most 2^-9
// relative, an NMSE near 1e-6). The plain path rounds phat, zhat and dphat to bf16 as well: a few
// 1e-6, still well inside.
#include "engine/ops/cosine_loss.h"
#include "tests/support/op_cases.h"

using rsd::Variant;
using rsd::Tensor;
using rsd::test::InputSpec;
using rsd::test::OpCase;

namespace {

OpCase cosine_case(int64_t B, int64_t D, Variant variant = Variant::fused) {
  const std::string label = rsd::str_cat("[", B, ",", D, "] ", rsd::variant_name(variant));
  return OpCase("byol_cosine_loss", label, {InputSpec::values({B, D}), InputSpec::constant({B, D})},
                [variant](const std::vector<Tensor>& in) { return rsd::byol_cosine_loss(in[0], in[1], 1e-8, variant); });
}

}  // namespace

RSD_OP_CASES(cosine_loss) {
  for (const auto& [B, D] : {std::pair<int64_t, int64_t>{1, 3}, {3, 64}, {1000, 3}, {257, 64}, {3, 130}, {33, 256},
                             {1, 256}, {65, 100}, {7, 1032}})
    cases.push_back(cosine_case(B, D));
  cases.push_back(cosine_case(257, 64, Variant::plain));
  cases.push_back(cosine_case(3, 130, Variant::plain));
}

// BYOL's loss on 64 views per batch unit of 256-dimensional projections: memory-bound (p and z
// read); `shape.variant` picks the CUDA implementation.
RSD_OP_BENCH_CASES(cosine_loss) {
  const int64_t B = 64 * shape.batch, D = 256;
  cases.push_back(cosine_case(B, D, shape.variant).bench(0.0, 2.0 * B * D, {{"eps", 1e-8}}));
}
