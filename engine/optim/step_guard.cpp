#include "engine/optim/step_guard.h"

#include <cmath>

#include "engine/allocator.h"
#include "engine/backend.h"
#include "engine/error.h"

#if RSD_HAVE_CUDA
#include "engine/cuda/multi_tensor_ops.h"
#endif

namespace rsd {

StepGuard::StepGuard(Device device) {
  ArenaSuspend persistent;
  guard_ = Tensor::zeros({2}, DType::f32, device);
  norm_ = Tensor::zeros({1}, DType::f64, device);
}

void StepGuard::compute(const Tensor& loss, const Tensor& squared_norm, double clip) {
  RSD_CHECK(loss.numel() == 1 && squared_norm.numel() == 1 && squared_norm.dtype() == DType::f64 &&
                loss.device() == guard_.device() && squared_norm.device() == guard_.device(),
            "step guard: expected one loss element and an f64 squared norm on ", guard_.device().str(), ", got ",
            loss.describe(), " and ", squared_norm.describe());
  RSD_CHECK(clip >= 0.0, "step guard: clip ", clip, " must be >= 0");
  if (guard_.is_cuda()) {
    RSD_CHECK(loss.dtype() == DType::f32, "step guard: the loss on a GPU must be f32, got ", loss.describe());
    RSD_CUDA_CALL(cuda::step_guard(loss, squared_norm, clip, guard_, norm_));
    return;
  }
  // The kernel's arithmetic (kernels/multi_tensor_ops.cu), on the host.
  const double norm = std::sqrt(squared_norm.item());
  const bool finite = std::isfinite(loss.item()) && std::isfinite(norm);
  float* g = guard_.data<float>();
  g[0] = finite ? 0.0f : 1.0f;
  g[1] = (finite && clip > 0.0 && norm > clip) ? static_cast<float>(clip / (norm + 1e-6)) : 1.0f;
  norm_.data<double>()[0] = norm;
}

}  // namespace rsd
