// ResNet bottleneck block, torchvision's Bottleneck (ResNet v1.5: the stride sits on the 3x3 conv2,
// not on conv1): conv1x1-bn-relu, conv3x3(stride)-bn-relu, conv1x1-bn, plus the shortcut (identity,
// or conv1x1(stride)-bn when the stride or the width changes), then relu. The block widens by
// kExpansion = 4: `planes` inner channels, 4 * planes out. Names follow torchvision (conv1 bn1
// conv2 bn2 conv3 bn3 downsample.0 downsample.1).
#pragma once
#include "models/folded.h"
#include "models/layers.h"

namespace rsd::models {

class Bottleneck {
 public:
  static constexpr int kExpansion = 4;
  // zero_init_residual: bn3's weight starts at 0 (torchvision's zero_init_residual).
  Bottleneck(const LayerContext& ctx, int in_channels, int planes, int stride, bool zero_init_residual = false);
  // x: (N, H, W, Cin) -> (N, H/stride, W/stride, 4 planes)
  Tensor forward(const Tensor& x, bool training) const;
  // The block in eval mode with each batch norm folded into its convolution (models/folded.h).
  FoldedBlock fold() const;

 private:
  // Declared in torchvision's order: they are built (and draw their initial weights) in this order.
  Conv2d conv1_;
  BatchNorm bn1_;
  Conv2d conv2_;
  BatchNorm bn2_;
  Conv2d conv3_;
  BatchNorm bn3_;
  bool has_downsample_ = false;
  Conv2d down_conv_;
  BatchNorm down_bn_;
};

}  // namespace rsd::models
