// A frozen ResNet with every batch norm folded into the convolution before it, for inference
// (`rsd embed`, `rsd eval` on the CPU). In eval mode batch norm is an affine map per channel,
//   bn(conv(x, w)) = conv(x, w * s) + (beta - mean * s),  s = gamma / sqrt(running_var + eps),
// so each conv + bn (+ residual add) (+ relu) becomes one conv2d_inference call (one oneDNN
// primitive) on weights scaled once at load and prepared for the kernel once (Winograd-transformed
// where it pays: engine/onednn/conv2d_inference.cpp). The result equals the unfolded network in
// eval mode within float32 rounding (tests/test_models.cpp). The CPU backends only: the op has no CUDA kernel.
//
//   const FoldedResNet folded = net.fold();           // after the weights are loaded
//   Tensor features = folded.forward(x);              // == net.forward(x, /*training=*/false)
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/ops/conv2d_inference.h"
#include "engine/tensor.h"

namespace rsd::models {

class Conv2d;
class BatchNorm;

// relu?(conv2d(x, weight) + bias + residual); weight (K, R, S, C), bias (K), f32.
struct FoldedConv {
  Tensor weight, bias;
  int stride = 1, padding = 0;
  bool relu = false;
  // The weights as the CPU backend's kernel wants them, prepared on first use (shared by copies).
  std::shared_ptr<ConvWeightCache> prepared = std::make_shared<ConvWeightCache>();
  Tensor forward(const Tensor& x, const Tensor& residual = Tensor()) const;  // x: (N, H, W, C) -> (N, P, Q, K)
};

// `conv` followed by eval-mode `bn` (and a ReLU when `relu`), as one FoldedConv; computed in double.
FoldedConv fold_conv_bn(const Conv2d& conv, const BatchNorm& bn, bool relu);

// A residual block: `path` in order, the last one adding the shortcut (the input, or `shortcut`
// applied to it) before its ReLU.
struct FoldedBlock {
  std::vector<FoldedConv> path;
  std::optional<FoldedConv> shortcut;
  Tensor forward(const Tensor& x) const;
};

// The whole encoder: the stem's conv (+ max-pool for the standard stem), the blocks, and pooling.
class FoldedResNet {
 public:
  FoldedResNet(std::string name, int in_channels, FoldedConv stem, bool max_pool, std::vector<FoldedBlock> blocks);
  // x: (N, H, W, in_channels), f32 or f64 on the CPU -> (N, feature_dim), as ResNet::forward in eval.
  Tensor forward(const Tensor& x) const;
  // The last stage's feature map, as ResNet::feature_map in eval mode.
  Tensor feature_map(const Tensor& x) const;

 private:
  std::string name_;  // "ResNet-50 (folded)", for errors
  int in_channels_;
  FoldedConv stem_;
  bool max_pool_;
  std::vector<FoldedBlock> blocks_;
};

}  // namespace rsd::models
