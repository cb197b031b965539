#include "models/layers.h"

#include "engine/ops/batchnorm.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/linear.h"
#include "models/init.h"

namespace rsd::models {

Conv2d::Conv2d(const LayerContext& ctx, int in_channels, int out_channels, int kernel, int stride, int padding)
    : stride_(stride), padding_(padding) {
  Tensor w = Tensor::empty({out_channels, kernel, kernel, in_channels}, DType::f32, ctx.device);
  kaiming_normal_fan_out(w, static_cast<int64_t>(out_channels) * kernel * kernel, ctx.gen);
  weight_ = ctx.params.add(ctx.prefix + "weight", w, false);
}

Tensor Conv2d::forward(const Tensor& x) const { return conv2d(x, weight_, stride_, padding_); }

BatchNorm::BatchNorm(const LayerContext& ctx, int channels) {
  weight_ = ctx.params.add(ctx.prefix + "weight", Tensor::full({channels}, 1.0, DType::f32, ctx.device), true);
  bias_ = ctx.params.add(ctx.prefix + "bias", Tensor::zeros({channels}, DType::f32, ctx.device), true);
  running_mean_ = ctx.params.add_buffer(ctx.prefix + "running_mean", Tensor::zeros({channels}, DType::f32, ctx.device));
  running_var_ = ctx.params.add_buffer(ctx.prefix + "running_var", Tensor::full({channels}, 1.0, DType::f32, ctx.device));
}

Tensor BatchNorm::forward(const Tensor& x, bool training) const {
  Tensor mean = running_mean_, var = running_var_;
  return x.ndim() == 4 ? batch_norm2d(x, weight_, bias_, mean, var, training)
                       : batch_norm1d(x, weight_, bias_, mean, var, training);
}

Linear::Linear(const LayerContext& ctx, int in_features, int out_features, bool bias) {
  Tensor w = Tensor::empty({out_features, in_features}, DType::f32, ctx.device);
  linear_default_uniform(w, in_features, ctx.gen);
  weight_ = ctx.params.add(ctx.prefix + "weight", w, false);
  if (bias) {
    Tensor b = Tensor::empty({out_features}, DType::f32, ctx.device);
    linear_default_uniform(b, in_features, ctx.gen);
    bias_ = ctx.params.add(ctx.prefix + "bias", b, true);
  }
}

Tensor Linear::forward(const Tensor& x) const { return linear(x, weight_, bias_); }

}  // namespace rsd::models
