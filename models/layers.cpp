#include "models/layers.h"

#include "engine/ops/batchnorm.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/convert.h"
#include "engine/ops/linear.h"
#include "models/init.h"

namespace rsd::models {

namespace {

thread_local comm::Communicator* t_sync_batch_norm_comm = nullptr;
thread_local ParameterCastScope* t_parameter_casts = nullptr;
constexpr double kMomentum = 0.1;  // of the running statistics (PyTorch's default)

// batch_norm2d / batch_norm1d by x's rank, or sync_batch_norm in training under a
// SyncBatchNormScope; their _relu forms (one op) when `relu`. x: (N, H, W, C) or (N, C).
Tensor batch_norm_of(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& mean, Tensor& var,
                     bool training, bool relu) {
  constexpr double m = kMomentum, eps = BatchNorm::kEps;
  if (training && t_sync_batch_norm_comm != nullptr) {
    comm::Communicator& comm = *t_sync_batch_norm_comm;
    return relu ? sync_batch_norm_relu(x, gamma, beta, mean, var, comm, m, eps)
                : sync_batch_norm(x, gamma, beta, mean, var, comm, m, eps);
  }
  if (x.ndim() == 4)
    return relu ? batch_norm2d_relu(x, gamma, beta, mean, var, training, m, eps)
                : batch_norm2d(x, gamma, beta, mean, var, training, m, eps);
  return relu ? batch_norm1d_relu(x, gamma, beta, mean, var, training, m, eps)
              : batch_norm1d(x, gamma, beta, mean, var, training, m, eps);
}

// An f32 parameter in the dtype of the activations it meets; the cast is recorded, so the
// gradient returns to the f32 master weight (converted once per scope under a
// ParameterCastScope). Undefined stays undefined (a linear without bias).
Tensor in_dtype_of(const Tensor& param, const Tensor& x) {
  if (!param.defined() || param.dtype() == x.dtype()) return param;
  if (t_parameter_casts != nullptr) return t_parameter_casts->cast(param, x.dtype());
  return cast(param, x.dtype());
}

Tensor f64_copy_of(const Tensor& t) {
  Tensor c = Tensor::empty(t.shape(), DType::f64, t.device());
  c.copy_from(t);
  return c;
}

}  // namespace

Conv2d::Conv2d(const LayerContext& ctx, int in_channels, int out_channels, int kernel, int stride, int padding)
    : stride_(stride), padding_(padding) {
  Tensor w = Tensor::empty({out_channels, kernel, kernel, in_channels}, DType::f32, ctx.device);
  kaiming_normal_fan_out(w, static_cast<int64_t>(out_channels) * kernel * kernel, ctx.gen);
  weight_ = ctx.params.add(ctx.prefix + "weight", w, false);
}

Tensor Conv2d::forward(const Tensor& x) const { return conv2d(x, in_dtype_of(weight_, x), stride_, padding_); }

SyncBatchNormScope::SyncBatchNormScope(comm::Communicator& comm) : previous_(t_sync_batch_norm_comm) {
  t_sync_batch_norm_comm = &comm;
}

SyncBatchNormScope::~SyncBatchNormScope() { t_sync_batch_norm_comm = previous_; }

comm::Communicator* sync_batch_norm_communicator() { return t_sync_batch_norm_comm; }

ParameterCastScope::ParameterCastScope() : previous_(t_parameter_casts) { t_parameter_casts = this; }

ParameterCastScope::~ParameterCastScope() { t_parameter_casts = previous_; }

Tensor ParameterCastScope::cast(const Tensor& param, DType dtype) {
  const auto key = std::make_pair(static_cast<const TensorImpl*>(param.impl()), dtype);
  if (const auto it = copies_.find(key); it != copies_.end()) return cast_reusing(param, it->second.converted);
  Tensor converted = rsd::cast(param, dtype);
  copies_.emplace(key, Copy{param, converted});
  return converted;
}

BatchNorm::BatchNorm(const LayerContext& ctx, int channels, double weight_init) {
  weight_ = ctx.params.add(ctx.prefix + "weight", Tensor::full({channels}, weight_init, DType::f32, ctx.device), true);
  bias_ = ctx.params.add(ctx.prefix + "bias", Tensor::zeros({channels}, DType::f32, ctx.device), true);
  running_mean_ = ctx.params.add_buffer(ctx.prefix + "running_mean", Tensor::zeros({channels}, DType::f32, ctx.device));
  running_var_ = ctx.params.add_buffer(ctx.prefix + "running_var", Tensor::full({channels}, 1.0, DType::f32, ctx.device));
}

Tensor BatchNorm::forward(const Tensor& x, bool training) const { return normalize(x, training, false); }

Tensor BatchNorm::forward_relu(const Tensor& x, bool training) const { return normalize(x, training, true); }

Tensor BatchNorm::normalize(const Tensor& x, bool training, bool relu) const {
  // CUDA wants f32 per-channel tensors for f32 and bf16 activations; the CPU wants x's dtype,
  // which for the f32 parameters means f32 as they are and f64 through forward_f64_on_cpu.
  if (x.device().is_cpu() && x.dtype() == DType::f64) return forward_f64_on_cpu(x, training, relu);
  Tensor mean = running_mean_, var = running_var_;
  return batch_norm_of(x, weight_, bias_, mean, var, training, relu);
}

// The float64 reference: gamma and beta cast with autograd; the running statistics updated in f64
// temporaries (no autograd) and stored back into the f32 buffers.
Tensor BatchNorm::forward_f64_on_cpu(const Tensor& x, bool training, bool relu) const {
  const Tensor gamma = in_dtype_of(weight_, x), beta = in_dtype_of(bias_, x);
  Tensor mean = f64_copy_of(running_mean_), var = f64_copy_of(running_var_);
  Tensor y = batch_norm_of(x, gamma, beta, mean, var, training, relu);
  if (training) {
    Tensor stored_mean = running_mean_, stored_var = running_var_;
    stored_mean.copy_from(mean);
    stored_var.copy_from(var);
  }
  return y;
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

Tensor Linear::forward(const Tensor& x) const { return linear(x, in_dtype_of(weight_, x), in_dtype_of(bias_, x)); }

}  // namespace rsd::models
