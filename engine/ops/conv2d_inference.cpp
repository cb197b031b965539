#include "engine/ops/conv2d_inference.h"

#include "engine/allocator.h"
#include "engine/autograd.h"
#include "engine/ops/checks.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/conv2d_inference_kernels.h"

namespace rsd {

namespace {

constexpr const char* kOp = "conv2d_inference";
constexpr auto kForward = RSD_CPU_KERNELS(conv2d_inference_forward);

std::string describe_all(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& residual) {
  return str_cat("x ", x.describe(), ", w ", w.describe(), ", bias ", bias.describe(), ", residual ",
                 residual.defined() ? residual.describe() : std::string("none"));
}

void check_inputs(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& residual, const Shape& y,
                  int stride, int padding) {
  check::defined(kOp, "x", x);
  check::defined(kOp, "w", w);
  check::defined(kOp, "bias", bias);
  check::ndim(kOp, "x (N, H, W, C)", x, 4);
  check::ndim(kOp, "w (K, R, S, C)", w, 4);
  check::floating(kOp, "x", x);
  for (const Tensor* t : {&w, &bias}) {
    check::same_dtype(kOp, x, *t);
    check::same_device(kOp, x, *t);
  }
  RSD_CHECK(x.device().is_cpu(), kOp, ": CPU tensors only (a GPU runs the unfolded network): ",
            describe_all(x, w, bias, residual));
  RSD_CHECK(x.dim(3) == w.dim(3) && bias.ndim() == 1 && bias.dim(0) == w.dim(0), kOp,
            ": channels disagree (x's C with w's, w's K with bias's): ", describe_all(x, w, bias, residual));
  RSD_CHECK(stride >= 1 && padding >= 0 && y[1] >= 1 && y[2] >= 1, kOp, ": stride ", stride, ", padding ", padding,
            " give no output for ", describe_all(x, w, bias, residual));
  if (residual.defined()) {
    check::same_dtype(kOp, x, residual);
    check::same_device(kOp, x, residual);
    RSD_CHECK(residual.shape() == y, kOp, ": the residual must have the output's shape ", shape_str(y), ": ",
              describe_all(x, w, bias, residual));
  }
  const bool any_grad = x.requires_grad() || w.requires_grad() || bias.requires_grad() ||
                        (residual.defined() && residual.requires_grad());
  RSD_CHECK(!(grad_enabled() && any_grad), kOp,
            ": inference only, it records no gradient; run it under a NoGradScope on tensors that need none: ",
            describe_all(x, w, bias, residual));
}

}  // namespace

const Tensor& ConvWeightCache::get(const std::string& layout, const std::function<Tensor()>& prepare) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(layout);
  if (it == entries_.end()) {
    const ArenaSuspend persistent;  // kept across steps, not a step's activation
    it = entries_.emplace(layout, prepare()).first;
  }
  return it->second;  // std::map nodes never move: the reference outlives the lock
}

Tensor conv2d_inference(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& residual, bool relu,
                        int stride, int padding, ConvWeightCache* cache) {
  const bool shaped = x.defined() && w.defined() && x.ndim() == 4 && w.ndim() == 4;
  const Shape y_shape = shaped ? Shape{x.dim(0), conv2d_output_size(x.dim(1), w.dim(1), stride, padding),
                                       conv2d_output_size(x.dim(2), w.dim(2), stride, padding), w.dim(0)}
                               : Shape{};
  check_inputs(x, w, bias, residual, y_shape, stride, padding);
  Tensor y = Tensor::empty(y_shape, x.dtype(), x.device());
  kForward(x.device(), x, w, bias, residual.defined() ? &residual : nullptr, y, relu, stride, padding, cache);
  return y;
}

}  // namespace rsd
