#include "models/bottleneck.h"

#include "engine/ops/elementwise.h"

namespace rsd::models {

Bottleneck::Bottleneck(const LayerContext& ctx, int in_channels, int planes, int stride, bool zero_init_residual)
    : conv1_(ctx.child("conv1"), in_channels, planes, 1, 1, 0),
      bn1_(ctx.child("bn1"), planes),
      conv2_(ctx.child("conv2"), planes, planes, 3, stride, 1),
      bn2_(ctx.child("bn2"), planes),
      conv3_(ctx.child("conv3"), planes, planes * kExpansion, 1, 1, 0),
      bn3_(ctx.child("bn3"), planes * kExpansion, zero_init_residual ? 0.0 : 1.0),
      has_downsample_(stride != 1 || in_channels != planes * kExpansion) {
  if (has_downsample_) {
    down_conv_ = Conv2d(ctx.child("downsample.0"), in_channels, planes * kExpansion, 1, stride, 0);
    down_bn_ = BatchNorm(ctx.child("downsample.1"), planes * kExpansion);
  }
}

FoldedBlock Bottleneck::fold() const {
  FoldedBlock f;
  f.path = {fold_conv_bn(conv1_, bn1_, true), fold_conv_bn(conv2_, bn2_, true), fold_conv_bn(conv3_, bn3_, true)};
  if (has_downsample_) f.shortcut = fold_conv_bn(down_conv_, down_bn_, false);
  return f;
}

Tensor Bottleneck::forward(const Tensor& x, bool training) const {
  Tensor h = bn1_.forward_relu(conv1_.forward(x), training);  // (N, H, W, planes)
  h = bn2_.forward_relu(conv2_.forward(h), training);          // (N, H/stride, W/stride, planes)
  h = bn3_.forward(conv3_.forward(h), training);                // (N, H/stride, W/stride, 4 planes)
  const Tensor shortcut = has_downsample_ ? down_bn_.forward(down_conv_.forward(x), training) : x;
  return add_relu(h, shortcut);
}

}  // namespace rsd::models
