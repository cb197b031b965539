#include "models/mlp_head.h"

#include "engine/ops/elementwise.h"

namespace rsd::models {

namespace {
int checked_in_features(const LayerContext& ctx, int in_features, int hidden_features, int out_features) {
  RSD_CHECK(in_features >= 1 && hidden_features >= 1 && out_features >= 1, "MlpHead ", ctx.prefix,
            ": sizes must be at least 1, got in ", in_features, ", hidden ", hidden_features, ", out ", out_features);
  return in_features;
}
}  // namespace

MlpHead::MlpHead(const LayerContext& ctx, int in_features, int hidden_features, int out_features)
    : fc1_(ctx.child("0"), checked_in_features(ctx, in_features, hidden_features, out_features), hidden_features),
      bn_(ctx.child("1"), hidden_features),
      fc2_(ctx.child("3"), hidden_features, out_features),
      out_features_(out_features) {}

Tensor MlpHead::forward(const Tensor& x, bool training) const {
  const Tensor h = bn_.forward_relu(fc1_.forward(x), training);  // (N, hidden)
  return fc2_.forward(h);                                         // (N, out)
}

}  // namespace rsd::models
