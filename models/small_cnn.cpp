#include "models/small_cnn.h"

#include "engine/ops/elementwise.h"
#include "engine/ops/pool.h"

namespace rsd::models {

SmallCnn::SmallCnn(const LayerContext& ctx, int bands, int classes, int width)
    : stem_(ctx.child("conv1"), bands, width, 3, 1, 1),
      stem_bn_(ctx.child("bn1"), width),
      block_(ctx.child("layer1.0"), width, 2 * width, 2),
      head_(ctx.child("fc"), 2 * width, classes) {}

Tensor SmallCnn::forward(const Tensor& x, bool training) const {
  Tensor h = stem_bn_.forward_relu(stem_.forward(x), training);  // (N, H, W, width)
  h = max_pool2d(h, 3, 2, 1);                                      // (N, H/2, W/2, width)
  h = block_.forward(h, training);                                  // (N, H/4, W/4, 2 width)
  return head_.forward(global_avg_pool(h));                         // (N, classes)
}

}  // namespace rsd::models
