// Cases for conv2d and linear. Shapes include single pixels and channels, odd and non-square
// images, strides that do not divide the padded size, and a ResNet-stem-like 7x7 stride-2 conv.
// bf16 bound: the inputs are bf16-rounded identically on both sides, so what remains is f32
// accumulation order and the bf16 rounding of outputs and gradients (about 1e-5 NMSE).
// Gradient-check step: both ops are linear in each single input element, so central differences
// are exact for any step; 1e-3 instead of 1e-6 keeps the rounding noise of summing thousands of
// outputs (2e-7 for the 33x33 case at 1e-6) far below the 1e-6 bound.
#include "engine/ops/conv2d.h"
#include "engine/ops/linear.h"
#include "tests/support/op_cases.h"

using rsd::Shape;
using rsd::Tensor;
using rsd::test::InputSpec;
using rsd::test::OpCase;

namespace {

struct ConvCase {
  int64_t n, h, w, c, k, kernel;
  int stride, padding;
};

std::string conv_label(const ConvCase& g) {
  return rsd::str_cat("N", g.n, " ", g.h, "x", g.w, " C", g.c, " -> K", g.k, " k", g.kernel, " s", g.stride, " p",
                      g.padding);
}

}  // namespace

RSD_OP_CASES(conv_linear) {
  const ConvCase convs[] = {
      {1, 1, 1, 1, 1, 1, 1, 0},    // one pixel, one channel
      {2, 7, 7, 3, 5, 3, 1, 1},    // "same" 3x3
      {2, 8, 8, 3, 4, 3, 2, 1},    // strided 3x3, as in a downsampling block
      {1, 9, 7, 5, 3, 1, 2, 0},    // non-square 1x1 stride 2 (a projection shortcut)
      {3, 11, 11, 3, 8, 7, 2, 3},  // ResNet stem: 7x7 stride 2 pad 3
      {2, 33, 33, 4, 6, 3, 1, 1},  // odd size past any tile
      {1, 6, 5, 2, 3, 3, 3, 0},    // stride 3 that leaves rows and columns unused
      // 3x3 stride 1 with >= 16 channels: the fast CPU backend's Winograd, an odd size past its
      // 4x4 output tiles, and a 4x4 map as in a ResNet's last stage.
      {2, 9, 7, 16, 24, 3, 1, 1},
      {2, 4, 4, 32, 16, 3, 1, 1},
  };
  for (const ConvCase& g : convs) {
    cases.push_back(OpCase("conv2d", conv_label(g),
                           {InputSpec::values({g.n, g.h, g.w, g.c}), InputSpec::values({g.k, g.kernel, g.kernel, g.c})},
                           [g](const std::vector<Tensor>& in) { return rsd::conv2d(in[0], in[1], g.stride, g.padding); })
                        .bf16_bound(1e-4)
                        .gradcheck(1e-3, 1e-6));
  }

  const Shape linears[][2] = {{{1, 1}, {1, 1}}, {{3, 7}, {5, 7}}, {{33, 130}, {3, 130}}};
  for (const auto& s : linears) {
    const Shape& x = s[0];
    const Shape& w = s[1];
    const std::string label = rsd::str_cat(rsd::shape_str(x), " -> ", w[0]);
    cases.push_back(OpCase("linear", label, {InputSpec::values(x), InputSpec::values(w), InputSpec::values({w[0]})},
                           [](const std::vector<Tensor>& in) { return rsd::linear(in[0], in[1], in[2]); })
                        .bf16_bound(1e-4)
                        .gradcheck(1e-3, 1e-6));
    cases.push_back(OpCase("linear", label + " no bias", {InputSpec::values(x), InputSpec::values(w)},
                           [](const std::vector<Tensor>& in) { return rsd::linear(in[0], in[1]); })
                        .bf16_bound(1e-4)
                        .gradcheck(1e-3, 1e-6));
  }
}

// ResNet shapes: the 3x3 convolutions of stage 1 (plain and downsampling), the 7x7 stride-2 stem
// on 12 bands; the projector's linear layers of a batch of 8 views.
RSD_OP_BENCH_CASES(conv_linear) {
  const int64_t b = shape.batch;
  auto conv = [&](int64_t h, int64_t c, int64_t k, int r, int stride, int padding) {
    const int64_t p = rsd::conv2d_output_size(h, r, stride, padding);
    cases.push_back(OpCase("conv2d", rsd::str_cat(rsd::shape_str({b, h, h, c}), " k", r, " s", stride, " ->", k),
                           {InputSpec::values({b, h, h, c}).nhwc(), InputSpec::values({k, r, r, c}).nhwc()},
                           [stride, padding](const std::vector<Tensor>& in) {
                             return rsd::conv2d(in[0], in[1], stride, padding);
                           })
                        .bench(2.0 * b * p * p * k * r * r * c, 0.0, {{"stride", stride}, {"padding", padding}}));
  };
  // A ResNet's convolutions at 224 px: the 3x3 of every stage, a downsampling 3x3, the stem, and a
  // bottleneck's 1x1 expansion.
  conv(56, 64, 64, 3, 1, 1);
  conv(28, 128, 128, 3, 1, 1);
  conv(14, 256, 256, 3, 1, 1);
  conv(7, 512, 512, 3, 1, 1);
  conv(56, 64, 128, 3, 2, 1);
  conv(224, 12, 64, 7, 2, 3);
  conv(56, 64, 256, 1, 1, 0);
  for (const auto& [in, out] : {std::pair<int64_t, int64_t>{512, 4096}, {4096, 256}}) {
    const int64_t n = 8 * b;
    cases.push_back(OpCase("linear", rsd::str_cat(rsd::shape_str({n, in}), " ->", out),
                           {InputSpec::values({n, in}), InputSpec::values({out, in}), InputSpec::values({out})},
                           [](const std::vector<Tensor>& x) { return rsd::linear(x[0], x[1], x[2]); })
                        .bench(2.0 * n * in * out, 0.0));
  }
}
