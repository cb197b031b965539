// Batch norm's fused training kernels on oneDNN (engine/ops/batchnorm_kernels.h), f32: x is (M, C)
// rows (NHWC flattened), described to oneDNN as one NHWC image of M x 1 pixels, which picks its
// channels-last JIT kernels for batch_norm2d and 1d alike (as `nc` rows it took a generic loop
// 7x slower than the reference). oneDNN returns the batch
// mean and biased variance; rsd's running statistics keep the unbiased variance (PyTorch's rule),
// updated here in double, and the backward gets the variance back from save_invstd. With the ReLU
// fused, the forward's mask (oneDNN's workspace) goes to the op, which hands it to the backward.
#include <cmath>
#include <string>
#include <unordered_map>

#include "engine/ops/batchnorm_kernels.h"
#include "engine/onednn/context.h"

namespace rsd::onednn {

namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
dnnl::normalization_flags scale_and_shift() {
  return dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
}

struct BnDims {
  memory::dims rows, channels;
  std::string key;
};

BnDims bn_dims(const Tensor& x, double eps, bool relu = false) {
  const int64_t C = x.dim(-1), M = x.numel() / C;
  return {{1, C, M, 1}, {C}, str_cat(M, ",", C, ",", eps, relu ? ",relu" : "")};
}

// relu: the normalization followed by max(., 0) (fuse_norm_relu, which also writes a mask).
dnnl::batch_normalization_forward::primitive_desc forward_pd(const BnDims& d, double eps, bool relu = false) {
  const dnnl::normalization_flags flags =
      relu ? scale_and_shift() | dnnl::normalization_flags::fuse_norm_relu : scale_and_shift();
  const dnnl::batch_normalization_forward::desc desc(dnnl::prop_kind::forward_training, f32_desc(d.rows, tag::nhwc),
                                                     static_cast<float>(eps), flags);
  return dnnl::batch_normalization_forward::primitive_desc(desc, default_attr(), cpu_engine());
}

using Forward = Built<dnnl::batch_normalization_forward::primitive_desc, dnnl::batch_normalization_forward>;
using Backward = Built<dnnl::batch_normalization_backward::primitive_desc, dnnl::batch_normalization_backward>;

// C floats of this thread: the variance between oneDNN and rsd's save_invstd, and the shift
// oneDNN 2.6's backward requires as an argument without using it.
dnnl::memory channel_buffer(int64_t C, ThreadBuffer use) { return thread_buffer(use, f32_desc({C}, tag::a)); }

// The training forward, with the ReLU fused when `relu`.
void forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& y, Tensor& save_mean,
                   Tensor& save_invstd, Tensor& running_mean, Tensor& running_var, double momentum, double eps,
                   Tensor* workspace) {
  const bool relu = workspace != nullptr;
  RSD_CHECK(x.dtype() == DType::f32, "batch norm on oneDNN: x must be f32, got ", x.describe());
  const BnDims d = bn_dims(x, eps, relu);
  static PrimitiveCache<Forward> cache;
  const Forward& f = cache.get(d.key, [&] {
    const auto pd = forward_pd(d, eps, relu);
    return Forward{pd, dnnl::batch_normalization_forward(pd)};
  });
  const int64_t C = d.channels[0], M = d.rows[2];
  const memory variance = channel_buffer(C, ThreadBuffer::variance);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, wrap(x, d.rows, tag::nhwc)},
                                       {DNNL_ARG_SCALE, wrap(gamma, d.channels, tag::a)},
                                       {DNNL_ARG_SHIFT, wrap(beta, d.channels, tag::a)},
                                       {DNNL_ARG_MEAN, wrap(save_mean, d.channels, tag::a)},
                                       {DNNL_ARG_VARIANCE, variance},
                                       {DNNL_ARG_DST, wrap(y, d.rows, tag::nhwc)}};
  if (relu) {
    const memory::desc ws = f.pd.workspace_desc();
    *workspace = Tensor::empty({static_cast<int64_t>(ws.get_size())}, DType::u8);
    args.emplace(DNNL_ARG_WORKSPACE, memory(ws, cpu_engine(), workspace->raw()));
  }
  execute(f.primitive, args);
  const float* mean = save_mean.data<float>();
  const float* var = static_cast<const float*>(variance.get_data_handle());
  float* invstd = save_invstd.data<float>();
  float* rm = running_mean.data<float>();
  float* rv = running_var.data<float>();
  const double unbias = M > 1 ? static_cast<double>(M) / static_cast<double>(M - 1) : 1.0;
  for (int64_t c = 0; c < C; ++c) {
    invstd[c] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(var[c]) + eps));
    rm[c] = static_cast<float>((1.0 - momentum) * rm[c] + momentum * mean[c]);
    rv[c] = static_cast<float>((1.0 - momentum) * rv[c] + momentum * var[c] * unbias);
  }
}

}  // namespace

void batch_norm_forward_train_fused(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& y,
                                    Tensor& save_mean, Tensor& save_invstd, Tensor& running_mean, Tensor& running_var,
                                    double momentum, double eps) {
  forward_train(x, gamma, beta, y, save_mean, save_invstd, running_mean, running_var, momentum, eps, nullptr);
}

void batch_norm_relu_forward_train_fused(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& y,
                                         Tensor& save_mean, Tensor& save_invstd, Tensor& running_mean,
                                         Tensor& running_var, double momentum, double eps, Tensor& workspace) {
  forward_train(x, gamma, beta, y, save_mean, save_invstd, running_mean, running_var, momentum, eps, &workspace);
}

namespace {

// The training backward; with `workspace` (the forward's ReLU mask) through the fused ReLU too.
void backward_train(const Tensor& x, const Tensor& gy, const Tensor& gamma, const Tensor& save_mean,
                    const Tensor& save_invstd, const Tensor* workspace, Tensor& gx, Tensor& dgamma, Tensor& dbeta) {
  RSD_CHECK(x.dtype() == DType::f32, "batch norm on oneDNN: x must be f32, got ", x.describe());
  const bool relu = workspace != nullptr;
  // The eps the forward used is not an argument here: the variance handed to oneDNN is
  // 1 / invstd^2 with eps 0, so that oneDNN's 1 / sqrt(var + eps) is the forward's invstd.
  const BnDims d = bn_dims(x, 0.0, relu);
  static PrimitiveCache<Backward> cache;
  const Backward& b = cache.get(d.key, [&] {
    const dnnl::normalization_flags flags =
        relu ? scale_and_shift() | dnnl::normalization_flags::fuse_norm_relu : scale_and_shift();
    const dnnl::batch_normalization_backward::desc desc(dnnl::prop_kind::backward, f32_desc(d.rows, tag::nhwc),
                                                        f32_desc(d.rows, tag::nhwc), 0.0f, flags);
    const dnnl::batch_normalization_backward::primitive_desc pd(desc, default_attr(), cpu_engine(),
                                                                forward_pd(d, 0.0, relu));
    return Backward{pd, dnnl::batch_normalization_backward(pd)};
  });
  const int64_t C = d.channels[0];
  const memory variance = channel_buffer(C, ThreadBuffer::variance);
  float* var = static_cast<float*>(variance.get_data_handle());
  const float* invstd = save_invstd.data<float>();
  for (int64_t c = 0; c < C; ++c) var[c] = static_cast<float>(1.0 / (static_cast<double>(invstd[c]) * invstd[c]));
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, wrap(x, d.rows, tag::nhwc)},
                                       {DNNL_ARG_MEAN, wrap(save_mean, d.channels, tag::a)},
                                       {DNNL_ARG_VARIANCE, variance},
                                       {DNNL_ARG_DIFF_DST, wrap(gy, d.rows, tag::nhwc)},
                                       {DNNL_ARG_SCALE, wrap(gamma, d.channels, tag::a)},
                                       {DNNL_ARG_SHIFT, channel_buffer(C, ThreadBuffer::shift)},
                                       {DNNL_ARG_DIFF_SRC, wrap(gx, d.rows, tag::nhwc)},
                                       {DNNL_ARG_DIFF_SCALE, wrap(dgamma, d.channels, tag::a)},
                                       {DNNL_ARG_DIFF_SHIFT, wrap(dbeta, d.channels, tag::a)}};
  if (relu) {
    const memory::desc ws = b.pd.workspace_desc();
    RSD_CHECK(static_cast<int64_t>(ws.get_size()) == workspace->numel(), "batch norm + ReLU on oneDNN: the mask of ",
              workspace->numel(), " bytes does not fit x ", x.describe(), " (", ws.get_size(), " expected)");
    args.emplace(DNNL_ARG_WORKSPACE, memory(ws, cpu_engine(), workspace->raw()));
  }
  execute(b.primitive, args);
}

}  // namespace

void batch_norm_backward_train_fused(const Tensor& x, const Tensor& gy, const Tensor& gamma, const Tensor& save_mean,
                                     const Tensor& save_invstd, Tensor& gx, Tensor& dgamma, Tensor& dbeta) {
  backward_train(x, gy, gamma, save_mean, save_invstd, nullptr, gx, dgamma, dbeta);
}

void batch_norm_relu_backward_train_fused(const Tensor& x, const Tensor& gy, const Tensor& gamma,
                                          const Tensor& save_mean, const Tensor& save_invstd, const Tensor& workspace,
                                          Tensor& gx, Tensor& dgamma, Tensor& dbeta) {
  backward_train(x, gy, gamma, save_mean, save_invstd, &workspace, gx, dgamma, dbeta);
}

}  // namespace rsd::onednn
