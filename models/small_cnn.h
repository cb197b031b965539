// A small CNN classifier for the CPU demo and the training test: a ResNet in miniature
// (stem conv-bn-relu, max-pool, one basic block, global average pool, linear head).
#pragma once
#include "models/basic_block.h"
#include "models/layers.h"

namespace rsd::models {

class SmallCnn {
 public:
  SmallCnn(const LayerContext& ctx, int bands, int classes, int width = 16);
  Tensor forward(const Tensor& x, bool training) const;  // x: (N, H, W, bands) -> logits (N, classes)

 private:
  Conv2d stem_;
  BatchNorm stem_bn_;
  BasicBlock block_;
  Linear head_;
};

}  // namespace rsd::models
