#include "engine/optim/grad_norm.h"

#include <cmath>

#include "engine/allocator.h"
#include "engine/backend.h"
#include "engine/error.h"

#if RSD_HAVE_CUDA
#include "engine/cuda/multi_tensor_ops.h"
#endif

namespace rsd {

GradientNorm::GradientNorm(const std::vector<Parameter*>& params) {
  RSD_CHECK(!params.empty(), "gradient norm: no parameters");
  const Device device = params.front()->value.device();
  for (const Parameter* p : params) {
    const Tensor g = p->value.grad();
    RSD_CHECK(g.defined(), "gradient norm: parameter ", p->name, " has no gradient buffer");
    RSD_CHECK(g.dtype() == DType::f32 && g.device() == device, "gradient norm: gradient of ", p->name, " is ",
              g.describe(), "; expected f32 on ", device.str());
    grads_.push_back(g);
  }
  if (device.is_cuda()) {
    std::vector<cuda::MultiTensorEntry> entries;
    for (const Tensor& g : grads_) entries.push_back({g, g, {}, {}, false});
#if RSD_HAVE_CUDA
    table_ = cuda::build_multi_tensor_table(entries, "gradient norm");
    workspace_ = cuda::squared_norm_workspace(table_);
#else
    fail("gradient norm: this build of rsd has no CUDA backend");
#endif
  }
  ArenaSuspend persistent;
  result_ = Tensor::zeros({1}, DType::f64, device);
}

const Tensor& GradientNorm::squared_on_device() const {
  Tensor out = result_;
  if (grads_.front().is_cuda()) {
    RSD_CUDA_CALL(cuda::squared_norm(table_, workspace_, out));
    return result_;
  }
  double sum = 0.0;
  for (const Tensor& g : grads_) {
    const float* p = g.data<float>();
    for (int64_t i = 0, n = g.numel(); i < n; ++i) sum += static_cast<double>(p[i]) * p[i];
  }
  out.data<double>()[0] = sum;
  return result_;
}

double GradientNorm::compute() const { return std::sqrt(squared_on_device().item()); }

void GradientNorm::scale(double factor) {
  RSD_CHECK(std::isfinite(factor), "gradient norm: scale factor ", factor, " is not finite");
  if (grads_.front().is_cuda()) {
    RSD_CUDA_CALL(cuda::scale(table_, static_cast<float>(factor)));
    return;
  }
  const float f = static_cast<float>(factor);
  for (Tensor& g : grads_) {
    float* p = g.data<float>();
    for (int64_t i = 0, n = g.numel(); i < n; ++i) p[i] *= f;
  }
}

}  // namespace rsd
