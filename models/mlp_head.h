// The MLP head of BYOL and SimCLR-style methods: Linear(in, hidden) - BatchNorm1d(hidden) - ReLU -
// Linear(hidden, out), both linears with bias. Names are those of PyTorch's
// nn.Sequential(Linear, BatchNorm1d, ReLU, Linear): "0.weight", "0.bias", "1.weight", "1.bias",
// "1.running_mean", "1.running_var", "3.weight", "3.bias", under the context's prefix
// ("online.projector.", "online.predictor.").
#pragma once
#include "models/layers.h"

namespace rsd::models {

class MlpHead {
 public:
  MlpHead(const LayerContext& ctx, int in_features, int hidden_features, int out_features);
  Tensor forward(const Tensor& x, bool training) const;  // x: (N, in) -> (N, out), x's dtype
  int out_features() const { return out_features_; }

 private:
  Linear fc1_;
  BatchNorm bn_;
  Linear fc2_;
  int out_features_ = 0;
};

}  // namespace rsd::models
