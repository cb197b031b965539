// ResNet basic block (He et al. 2016): conv3x3-bn-relu-conv3x3-bn, plus the shortcut (identity, or
// conv1x1-bn when the stride or the width changes), then relu. Names follow torchvision
// (conv1, bn1, conv2, bn2, downsample.0, downsample.1).
#pragma once
#include "models/folded.h"
#include "models/layers.h"

namespace rsd::models {

class BasicBlock {
 public:
  // Output channels per unit of `out_channels` (torchvision's BasicBlock.expansion).
  static constexpr int kExpansion = 1;
  // zero_init_residual: bn2's weight starts at 0, so the residual branch starts at 0 and the block
  // at relu(shortcut) (torchvision's zero_init_residual, after Goyal et al. 2017).
  BasicBlock(const LayerContext& ctx, int in_channels, int out_channels, int stride, bool zero_init_residual = false);
  Tensor forward(const Tensor& x, bool training) const;
  // The block in eval mode with each batch norm folded into its convolution (models/folded.h).
  FoldedBlock fold() const;  // x: (N, H, W, Cin) -> (N, H/stride, W/stride, Cout)

 private:
  // Declared in torchvision's order: they are built (and draw their initial weights) in this order.
  Conv2d conv1_;
  BatchNorm bn1_;
  Conv2d conv2_;
  BatchNorm bn2_;
  bool has_downsample_ = false;
  Conv2d down_conv_;
  BatchNorm down_bn_;
};

}  // namespace rsd::models
