#include "engine/cuda/optim.h"

#include "engine/allocator.h"
#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/multi_tensor_launch.h"
#include "kernels/optim.cuh"

namespace rsd::cuda {

void sgd_step(const MultiTensorTable& t, float lr, float momentum, float weight_decay, bool nesterov,
              const float* guard) {
  kernels::sgd_step(slots_of(t), chunks_of(t), t.n_slots, t.total_chunks, lr, momentum, weight_decay, nesterov,
                    stream_of(t), guard);
  RSD_CUDA_CHECK_LAUNCH("SGD step over ", t.n_slots, " tensors, ", t.total_chunks, " chunks");
}

Tensor lars_workspace(const MultiTensorTable& t) {
  ArenaSuspend persistent;
  const size_t bytes = kernels::lars_workspace_bytes(t.total_chunks);
  return Tensor::empty({static_cast<int64_t>(bytes)}, DType::u8, t.slots.device());
}

void lars_step(const MultiTensorTable& t, const Tensor& workspace, float lr, float momentum, float weight_decay,
               float eta, const float* guard) {
  // The trust ratio of a tensor needs its whole norms before any of its elements is updated, and a
  // tensor spans several blocks: hence two launches, ordered on the one compute stream.
  kernels::lars_norms(slots_of(t), chunks_of(t), t.n_slots, t.total_chunks, weight_decay, workspace.raw(),
                      stream_of(t), guard);
  RSD_CUDA_CHECK_LAUNCH("LARS norms over ", t.n_slots, " tensors, ", t.total_chunks, " chunks");
  kernels::lars_step(slots_of(t), chunks_of(t), t.n_slots, t.total_chunks, lr, momentum, weight_decay, eta,
                     workspace.raw(), stream_of(t), guard);
  RSD_CUDA_CHECK_LAUNCH("LARS step over ", t.n_slots, " tensors, ", t.total_chunks, " chunks");
}

void adamw_step(const MultiTensorTable& t, float lr, float beta1, float beta2, float eps, float weight_decay,
                int64_t step, const float* guard) {
  kernels::adamw_step(slots_of(t), chunks_of(t), t.n_slots, t.total_chunks, lr, beta1, beta2, eps, weight_decay,
                      step, stream_of(t), guard);
  RSD_CUDA_CHECK_LAUNCH("AdamW step ", step, " over ", t.n_slots, " tensors, ", t.total_chunks, " chunks");
}

}  // namespace rsd::cuda
