#include "engine/ops/cosine_loss_kernels.h"

#include <algorithm>

#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/dispatch.h"
#include "engine/ops/l2norm_kernels.h"
#include "kernels/cosine_loss.cuh"
#include "kernels/reduce.cuh"

namespace rsd::cuda {

namespace {

const char* kOp = "byol_cosine_loss";

// loss {1} = the mean of row_loss (B), added in a fixed order.
void mean_of_rows(const Tensor& row_loss, Tensor& loss, const Tensor& p) {
  const int64_t B = row_loss.numel();
  const auto bytes = static_cast<int64_t>(kernels::reduce_workspace_bytes(B));
  Tensor workspace = Tensor::empty({std::max<int64_t>(bytes, 1)}, DType::u8, row_loss.device());
  kernels::reduce_sum<float>(row_loss.data<float>(), loss.data<float>(), B, static_cast<float>(1.0 / B),
                             workspace.raw(), context(row_loss.device().index).stream);
  RSD_CUDA_CHECK_LAUNCH(kOp, " mean over the rows of p ", p.describe());
}

// The upstream gradient as a device pointer for the kernels (null: 1).
const float* upstream(const Tensor* g, const Tensor& p) {
  if (g == nullptr) return nullptr;
  RSD_CHECK(g->dtype() == DType::f32 && g->numel() == 1 && g->device() == p.device(), kOp,
            " backward: the loss gradient ", g->describe(), " must be one f32 element on ", p.device().str(),
            " (p ", p.describe(), ")");
  return g->data<float>();
}

// One pass of kernels::cosine_loss_rows: row losses and/or dp, then the mean.
void fused(const Tensor& p, const Tensor& z, Tensor* loss, Tensor* dp, const Tensor* g, double eps) {
  const int64_t B = p.dim(0), D = p.dim(1);
  Tensor row_loss = loss != nullptr ? Tensor::empty({B}, DType::f32, p.device()) : Tensor();
  const float* g_device = upstream(g, p);
  dispatch_float(p.dtype(), kOp, [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::cosine_loss_rows<T>(static_cast<const T*>(p.raw()), static_cast<const T*>(z.raw()),
                                 loss != nullptr ? row_loss.data<float>() : nullptr,
                                 dp != nullptr ? static_cast<T*>(dp->raw()) : nullptr, B, D, static_cast<float>(eps),
                                 static_cast<float>(1.0 / B), g_device, context(p.device().index).stream);
  });
  RSD_CUDA_CHECK_LAUNCH(kOp, " (fused) p ", p.describe(), " z ", z.describe());
  if (loss != nullptr) mean_of_rows(row_loss, *loss, p);
}

// The plain composition, every intermediate in memory:
//   phat = p / max(|p|, eps), zhat = z / max(|z|, eps)        (l2_normalize kernels)
//   row_loss = 2 - 2 <phat, zhat>, loss = mean(row_loss)
//   dphat = -2 g / B * zhat, dp = l2_normalize backward of dphat through phat.
void plain(const Tensor& p, const Tensor& z, Tensor* loss, Tensor* dp, const Tensor* g, double eps) {
  const int64_t B = p.dim(0), D = p.dim(1);
  const Device device = p.device();
  cudaStream_t stream = context(device.index).stream;
  Tensor phat = Tensor::empty(p.shape(), p.dtype(), device), zhat = Tensor::empty(z.shape(), z.dtype(), device);
  Tensor norms_p = Tensor::empty({B}, DType::f32, device), norms_z = Tensor::empty({B}, DType::f32, device);
  l2_normalize_forward(p, phat, norms_p, eps);
  l2_normalize_forward(z, zhat, norms_z, eps);
  if (loss != nullptr) {
    Tensor row_loss = Tensor::empty({B}, DType::f32, device);
    dispatch_float(p.dtype(), kOp, [&](auto tag) {
      using T = typename decltype(tag)::type;
      kernels::plain_cosine_row_loss<T>(static_cast<const T*>(phat.raw()), static_cast<const T*>(zhat.raw()),
                                        row_loss.data<float>(), B, D, stream);
    });
    RSD_CUDA_CHECK_LAUNCH(kOp, " (plain) row losses of p ", p.describe(), " z ", z.describe());
    mean_of_rows(row_loss, *loss, p);
  }
  if (dp != nullptr) {
    const float* g_device = upstream(g, p);
    Tensor dphat = Tensor::empty(p.shape(), p.dtype(), device);
    dispatch_float(p.dtype(), kOp, [&](auto tag) {
      using T = typename decltype(tag)::type;
      kernels::plain_cosine_grad_normalized<T>(static_cast<const T*>(zhat.raw()), static_cast<T*>(dphat.raw()),
                                               B * D, static_cast<float>(1.0 / B), g_device, stream);
    });
    RSD_CUDA_CHECK_LAUNCH(kOp, " (plain) gradient of the normalized p ", p.describe());
    l2_normalize_backward(dphat, phat, norms_p, *dp, eps);
  }
}

}  // namespace

void byol_cosine_loss(const Tensor& p, const Tensor& z, Tensor* loss, Tensor* dp, const Tensor* g, double eps,
                      Variant variant) {
  if (variant == Variant::plain) {
    plain(p, z, loss, dp, g, eps);
  } else {
    fused(p, z, loss, dp, g, eps);
  }
}

}  // namespace rsd::cuda
