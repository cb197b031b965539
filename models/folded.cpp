#include "models/folded.h"

#include <cmath>
#include <utility>

#include "engine/autograd.h"
#include "engine/ops/conv2d_inference.h"
#include "engine/ops/pool.h"
#include "models/layers.h"

namespace rsd::models {

namespace {

// A parameter in x's dtype (f64 inputs run the folded network in f64 from its f32 weights).
Tensor in_dtype_of(const Tensor& param, const Tensor& x) {
  if (param.dtype() == x.dtype()) return param;
  Tensor c = Tensor::empty(param.shape(), x.dtype(), param.device());
  c.copy_from(param);
  return c;
}

}  // namespace

Tensor FoldedConv::forward(const Tensor& x, const Tensor& residual) const {
  // The cache holds the f32 weights' prepared forms; an f64 run casts them and prepares on each call.
  if (x.dtype() != weight.dtype())
    return conv2d_inference(x, in_dtype_of(weight, x), in_dtype_of(bias, x), residual, relu, stride, padding);
  return conv2d_inference(x, weight, bias, residual, relu, stride, padding, prepared.get());
}

FoldedConv fold_conv_bn(const Conv2d& conv, const BatchNorm& bn, bool relu) {
  const Tensor& w = conv.weight();  // (K, R, S, C)
  const int64_t K = w.dim(0), per_channel = w.numel() / K;
  std::vector<double> weight = w.to_host_doubles();
  const std::vector<double> gamma = bn.weight().to_host_doubles(), beta = bn.bias().to_host_doubles();
  const std::vector<double> mean = bn.running_mean().to_host_doubles(), var = bn.running_var().to_host_doubles();
  std::vector<double> bias(static_cast<size_t>(K));
  for (int64_t k = 0; k < K; ++k) {
    const size_t c = static_cast<size_t>(k);
    const double s = gamma[c] / std::sqrt(var[c] + BatchNorm::kEps);
    for (int64_t i = 0; i < per_channel; ++i) weight[static_cast<size_t>(k * per_channel + i)] *= s;
    bias[c] = beta[c] - mean[c] * s;
  }
  FoldedConv f;
  f.weight = Tensor::from_vector(weight, w.shape(), DType::f32, w.device());
  f.bias = Tensor::from_vector(bias, {K}, DType::f32, w.device());
  f.stride = conv.stride();
  f.padding = conv.padding();
  f.relu = relu;
  return f;
}

Tensor FoldedBlock::forward(const Tensor& x) const {
  Tensor h = x;
  for (size_t i = 0; i + 1 < path.size(); ++i) h = path[i].forward(h);
  const Tensor shortcut_out = shortcut ? shortcut->forward(x) : x;
  return path.back().forward(h, shortcut_out);
}

FoldedResNet::FoldedResNet(std::string name, int in_channels, FoldedConv stem, bool max_pool,
                           std::vector<FoldedBlock> blocks)
    : name_(std::move(name)),
      in_channels_(in_channels),
      stem_(std::move(stem)),
      max_pool_(max_pool),
      blocks_(std::move(blocks)) {}

Tensor FoldedResNet::forward(const Tensor& x) const { return global_avg_pool(feature_map(x)); }

Tensor FoldedResNet::feature_map(const Tensor& x) const {
  RSD_CHECK(x.defined(), name_, ": the input is undefined");
  RSD_CHECK(x.ndim() == 4 && x.dim(-1) == in_channels_, name_, ": input ", x.describe(), " must be (N, H, W, ",
            in_channels_, ")");
  const NoGradScope no_grad;
  Tensor h = stem_.forward(x);
  if (max_pool_) h = max_pool2d(h, 3, 2, 1);
  for (const FoldedBlock& block : blocks_) h = block.forward(h);
  return h;
}

}  // namespace rsd::models
