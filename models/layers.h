// Layers: parameters registered by name (torchvision's naming, so weights export directly) plus a
// forward that calls the engine's ops. A layer holds handles to tensors the registry owns.
//
// Mixed precision: parameters are always f32 master weights in the registry; a layer's forward
// follows the dtype of its input. On the GPU activations may be bf16: convolution and linear
// weights are cast to bf16 through the autograd op `cast`, so gradients flow back into the f32
// buffers, while batch norm takes its f32 parameters and statistics as they are (the CUDA op wants
// f32). On the CPU an f64 input runs the whole model in f64 from the same f32 parameters: the
// float64 reference of a training step (batch norm's CPU op wants x's dtype, so gamma and beta are
// cast and the running statistics go through f64 temporaries copied back after the step).
//
// Synchronized batch norm: BatchNorm's statistics are the local batch's by default. Under a
// SyncBatchNormScope every BatchNorm in training mode takes them over the rows of every rank of
// the scope's communicator instead (engine/ops/batchnorm.h); eval mode is unchanged.
//
//   {
//     models::SyncBatchNormScope sync(comm);   // this thread, until the scope closes
//     auto out = method.forward(views);         // every BN: sync_batch_norm(..., comm)
//     backward(out.loss);                       // the BN backward all-reduces too
//   }
//
// The backward runs the collectives too, so keep the communicator alive until it has run (the
// scope may close before it). Every rank must run the same layers in the same order.
#pragma once
#include <map>
#include <string>
#include <utility>

#include "engine/params.h"
#include "engine/rng.h"
#include "engine/tensor.h"

namespace rsd::comm {
class Communicator;
}

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
  Tensor forward(const Tensor& x) const;  // x: (N, H, W, C) -> (N, P, Q, K), x's dtype
  const Tensor& weight() const { return weight_; }
  int stride() const { return stride_; }
  int padding() const { return padding_; }

 private:
  Tensor weight_;
  int stride_ = 1, padding_ = 0;
};

// Makes every BatchNorm on this thread use sync_batch_norm over `comm` in training mode for the
// scope's lifetime. Nestable: an inner scope's communicator replaces the outer one's until it
// closes.
class SyncBatchNormScope {
 public:
  explicit SyncBatchNormScope(comm::Communicator& comm);
  ~SyncBatchNormScope();
  SyncBatchNormScope(const SyncBatchNormScope&) = delete;
  SyncBatchNormScope& operator=(const SyncBatchNormScope&) = delete;

 private:
  comm::Communicator* previous_;
};

// The communicator of this thread's innermost SyncBatchNormScope, or null outside any.
comm::Communicator* sync_batch_norm_communicator();

// Makes every layer on this thread cast each f32 parameter to an activation dtype once for the
// scope's lifetime and reuse that copy: one forward of a method whose encoder sees several views
// (BYOL and SimCLR run theirs on 2 views a step) would otherwise convert every weight once per
// view. Each use still records its own cast node (cast_reusing, engine/ops/convert.h), so every
// view's gradient reaches the f32 master weight on its own, bit for bit as without the scope.
// The parameters must not change inside it: it spans one forward, never an optimizer step, an
// EMA update or a load (a cached copy would be stale; tensors carry no version to notice it).
// The copies are the casts' own outputs, allocated where they would be anyway (the step arena in
// training) and saved by the ops for the backward regardless; the scope holds at most one per
// parameter and dtype. Nestable: an inner scope caches on its own until it closes.
class ParameterCastScope {
 public:
  ParameterCastScope();
  ~ParameterCastScope();
  ParameterCastScope(const ParameterCastScope&) = delete;
  ParameterCastScope& operator=(const ParameterCastScope&) = delete;
  // cast(param, dtype), converted on the first call for (param, dtype) and reused after.
  Tensor cast(const Tensor& param, DType dtype);

 private:
  struct Copy {
    Tensor param;  // held, so that its address cannot be reused by another tensor in the scope
    Tensor converted;
  };
  std::map<std::pair<const TensorImpl*, DType>, Copy> copies_;
  ParameterCastScope* previous_;
};

// Batch normalization over the last dimension (synchronized across ranks under a
// SyncBatchNormScope, in training mode); weight `weight_init` (1, or 0 for the last BN of a
// residual branch under zero_init_residual), bias 0, running mean 0, running var 1.
class BatchNorm {
 public:
  static constexpr double kEps = 1e-5;  // added to the variance (PyTorch's default)
  BatchNorm() = default;
  BatchNorm(const LayerContext& ctx, int channels, double weight_init = 1.0);
  Tensor forward(const Tensor& x, bool training) const;  // x: (N, H, W, C) or (N, C), x's dtype
  // relu(forward(x, training)) as one op (engine/ops/batchnorm.h's _relu forms).
  Tensor forward_relu(const Tensor& x, bool training) const;
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }
  const Tensor& running_mean() const { return running_mean_; }
  const Tensor& running_var() const { return running_var_; }

 private:
  Tensor normalize(const Tensor& x, bool training, bool relu) const;
  Tensor forward_f64_on_cpu(const Tensor& x, bool training, bool relu) const;
  Tensor weight_, bias_, running_mean_, running_var_;
};

// y = x W^T + b; W (out, in) and b initialized as PyTorch's nn.Linear.
class Linear {
 public:
  Linear() = default;
  Linear(const LayerContext& ctx, int in_features, int out_features, bool bias = true);
  Tensor forward(const Tensor& x) const;  // x: (N, in) -> (N, out), x's dtype

 private:
  Tensor weight_, bias_;
};

}  // namespace rsd::models
