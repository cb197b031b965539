// ResNet encoders (He et al. 2016) as torchvision builds them, without the classifier: ResNet-18
// and -34 from BasicBlocks, ResNet-50 from Bottlenecks (v1.5), then global average pooling.
// Parameter and buffer names are torchvision's (conv1.weight, bn1.running_mean,
// layer2.0.downsample.0.weight, ...) under the context's prefix, so weights export directly
// (conv weights are (K, R, S, C) here, (K, C, R, S) in torchvision).
//
//   ResNet net(LayerContext{params, gen, device, "online.encoder."}, ResNetConfig{50, 13});
//   Tensor features = net.forward(x, /*training=*/true);  // (N, H, W, 13) -> (N, 2048)
#pragma once
#include <string>
#include <variant>
#include <vector>

#include "models/basic_block.h"
#include "models/bottleneck.h"
#include "models/layers.h"

namespace rsd::models {

enum class ResNetStem {
  standard,     // conv 7x7 stride 2 pad 3, bn, relu, max-pool 3x3 stride 2 pad 1 (ImageNet-sized input)
  small_patch,  // conv 3x3 stride 1 pad 1, bn, relu, no max-pool (13x13 .. 64x64 chips)
};

const char* resnet_stem_name(ResNetStem stem);  // "standard", "small-patch" (the config spelling)
// The inverse of resnet_stem_name; another name is an rsd::Error listing the valid ones.
ResNetStem parse_resnet_stem(const std::string& name);

struct ResNetConfig {
  int depth = 50;  // 18, 34 or 50 (others: rsd::Error listing the valid ones)
  int in_channels = 3;
  ResNetStem stem = ResNetStem::standard;
  bool zero_init_residual = false;  // the last BN weight of every residual block starts at 0
  int width = 64;  // channels of the stem and layer1 (torchvision: 64); layers 2-4 double it each
};

class ResNet {
 public:
  ResNet(const LayerContext& ctx, const ResNetConfig& cfg);
  // x: (N, H, W, in_channels), any float dtype the ops take -> pooled features (N, feature_dim)
  Tensor forward(const Tensor& x, bool training) const;
  // The last stage's feature map before pooling: (N, ceil(H / s), ceil(W / s), feature_dim) with
  // s = output_stride() (dense embeddings and segmentation probes upsample it).
  Tensor feature_map(const Tensor& x, bool training) const;
  // 32 with the standard stem, 8 with the small-patch stem.
  int output_stride() const { return cfg_.stem == ResNetStem::standard ? 32 : 8; }
  // 8 width for ResNet-18/34, 32 width for ResNet-50 (512 and 2048 at width 64).
  int feature_dim() const { return feature_dim_; }
  const ResNetConfig& config() const { return cfg_; }
  // The network in eval mode with every batch norm folded into its convolution, from the weights
  // as they are now (models/folded.h): for inference on the CPU.
  FoldedResNet fold() const;

 private:
  using ResidualBlock = std::variant<BasicBlock, Bottleneck>;
  ResNetConfig cfg_;
  std::string name_;  // "ResNet-50", for error messages
  // Declared in torchvision's order: they are built (and draw their initial weights) in this order.
  Conv2d conv1_;
  BatchNorm bn1_;
  std::vector<ResidualBlock> blocks_;  // layer1.0, layer1.1, ..., layer4.last
  int feature_dim_ = 0;
};

}  // namespace rsd::models
