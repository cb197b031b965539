#include "engine/ops/cross_entropy_kernels.h"

#include <algorithm>

#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/dispatch.h"
#include "kernels/reduce.cuh"
#include "kernels/softmax_xent.cuh"

namespace rsd::cuda {

void softmax_cross_entropy_forward(const Tensor& logits, const Tensor& labels, Tensor& row_lse, Tensor& loss) {
  const int64_t N = logits.dim(0), K = logits.dim(1);
  const Device device = logits.device();
  cudaStream_t stream = context(device.index).stream;
  Tensor row_loss = Tensor::empty({N}, DType::f32, device);
  dispatch_float(logits.dtype(), "softmax_cross_entropy", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::softmax_xent_forward<T>(static_cast<const T*>(logits.raw()), labels.data<int32_t>(),
                                     row_loss.data<float>(), row_lse.data<float>(), N, K, stream);
  });
  RSD_CUDA_CHECK_LAUNCH("softmax_cross_entropy ", logits.describe(), " labels ", labels.describe());
  const auto bytes = static_cast<int64_t>(kernels::reduce_workspace_bytes(N));
  Tensor workspace = Tensor::empty({std::max<int64_t>(bytes, 1)}, DType::u8, device);
  kernels::reduce_sum<float>(row_loss.data<float>(), loss.data<float>(), N, 1.0f / static_cast<float>(N),
                             workspace.raw(), stream);
  RSD_CUDA_CHECK_LAUNCH("softmax_cross_entropy mean over rows of ", logits.describe());
}

void softmax_cross_entropy_backward(const Tensor& logits, const Tensor& labels, const Tensor& row_lse,
                                    const Tensor& gloss, Tensor& glogits) {
  RSD_CHECK(gloss.dtype() == DType::f32 && gloss.numel() == 1, "softmax_cross_entropy backward: the loss gradient ",
            gloss.describe(), " must be one f32 element (logits ", logits.describe(), ")");
  dispatch_float(logits.dtype(), "softmax_cross_entropy backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::softmax_xent_backward<T>(static_cast<const T*>(logits.raw()), labels.data<int32_t>(),
                                      row_lse.data<float>(), gloss.data<float>(), static_cast<T*>(glogits.raw()),
                                      logits.dim(0), logits.dim(1), context(logits.device().index).stream);
  });
  RSD_CUDA_CHECK_LAUNCH("softmax_cross_entropy backward ", logits.describe());
}

}  // namespace rsd::cuda
