#include "models/basic_block.h"

#include "engine/ops/elementwise.h"

namespace rsd::models {

BasicBlock::BasicBlock(const LayerContext& ctx, int in_channels, int out_channels, int stride,
                       bool zero_init_residual)
    : conv1_(ctx.child("conv1"), in_channels, out_channels, 3, stride, 1),
      bn1_(ctx.child("bn1"), out_channels),
      conv2_(ctx.child("conv2"), out_channels, out_channels, 3, 1, 1),
      bn2_(ctx.child("bn2"), out_channels, zero_init_residual ? 0.0 : 1.0),
      has_downsample_(stride != 1 || in_channels != out_channels) {
  if (has_downsample_) {
    down_conv_ = Conv2d(ctx.child("downsample.0"), in_channels, out_channels, 1, stride, 0);
    down_bn_ = BatchNorm(ctx.child("downsample.1"), out_channels);
  }
}

FoldedBlock BasicBlock::fold() const {
  FoldedBlock f;
  f.path = {fold_conv_bn(conv1_, bn1_, true), fold_conv_bn(conv2_, bn2_, true)};
  if (has_downsample_) f.shortcut = fold_conv_bn(down_conv_, down_bn_, false);
  return f;
}

Tensor BasicBlock::forward(const Tensor& x, bool training) const {
  Tensor h = bn1_.forward_relu(conv1_.forward(x), training);
  h = bn2_.forward(conv2_.forward(h), training);
  const Tensor shortcut = has_downsample_ ? down_bn_.forward(down_conv_.forward(x), training) : x;
  return add_relu(h, shortcut);
}

}  // namespace rsd::models
