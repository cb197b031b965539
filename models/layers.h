// Layers: parameters registered by name (torchvision's naming, so weights export directly) plus a
// forward that calls the engine's ops. A layer holds handles to tensors the registry owns.
#pragma once
#include <string>

#include "engine/params.h"
#include "engine/rng.h"
#include "engine/tensor.h"

namespace rsd::models {

// Where new layers put their parameters: the registry, a name prefix, the device and a generator.
struct LayerContext {
  ParameterRegistry& params;
  Generator& gen;
  Device device;
  std::string prefix;  // "layer1.0." ...
  LayerContext child(const std::string& name) const { return LayerContext{params, gen, device, prefix + name + "."}; }
};

// 2-D convolution without bias; weight (K, R, S, C), He-initialized (fan_out) as torchvision does.
class Conv2d {
 public:
  Conv2d() = default;
  Conv2d(const LayerContext& ctx, int in_channels, int out_channels, int kernel, int stride, int padding);
  Tensor forward(const Tensor& x) const;  // x: (N, H, W, C) -> (N, P, Q, K)
  const Tensor& weight() const { return weight_; }

 private:
  Tensor weight_;
  int stride_ = 1, padding_ = 0;
};

// Batch normalization over the last dimension; weight 1, bias 0, running mean 0, running var 1.
class BatchNorm {
 public:
  BatchNorm() = default;
  BatchNorm(const LayerContext& ctx, int channels);
  Tensor forward(const Tensor& x, bool training) const;  // x: (N, H, W, C) or (N, C)

 private:
  Tensor weight_, bias_, running_mean_, running_var_;
};

// y = x W^T + b; W (out, in) and b initialized as PyTorch's nn.Linear.
class Linear {
 public:
  Linear() = default;
  Linear(const LayerContext& ctx, int in_features, int out_features, bool bias = true);
  Tensor forward(const Tensor& x) const;  // x: (N, in) -> (N, out)

 private:
  Tensor weight_, bias_;
};

}  // namespace rsd::models
