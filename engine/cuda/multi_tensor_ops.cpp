#include "engine/cuda/multi_tensor_ops.h"

#include "engine/allocator.h"
#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/multi_tensor_launch.h"
#include "kernels/multi_tensor_ops.cuh"

namespace rsd::cuda {

void ema_update(const MultiTensorTable& t, float tau, const float* guard) {
  kernels::ema_update(slots_of(t), chunks_of(t), t.n_slots, t.total_chunks, tau, stream_of(t), guard);
  RSD_CUDA_CHECK_LAUNCH("EMA update over ", t.n_slots, " tensors, ", t.total_chunks, " chunks");
}

Tensor squared_norm_workspace(const MultiTensorTable& t) {
  ArenaSuspend persistent;
  const size_t bytes = kernels::squared_norm_workspace_bytes(t.total_chunks);
  return Tensor::empty({static_cast<int64_t>(bytes > 0 ? bytes : 8)}, DType::u8, t.slots.device());
}

void squared_norm(const MultiTensorTable& t, const Tensor& workspace, Tensor& out) {
  kernels::squared_norm(slots_of(t), chunks_of(t), t.n_slots, t.total_chunks, workspace.raw(),
                        static_cast<double*>(out.raw()), stream_of(t));
  RSD_CUDA_CHECK_LAUNCH("squared norm over ", t.n_slots, " tensors, ", t.total_chunks, " chunks");
}

void scale(const MultiTensorTable& t, float factor) {
  kernels::scale(slots_of(t), chunks_of(t), t.n_slots, t.total_chunks, factor, stream_of(t));
  RSD_CUDA_CHECK_LAUNCH("scale over ", t.n_slots, " tensors, ", t.total_chunks, " chunks");
}

void step_guard(const Tensor& loss, const Tensor& squared_norm, double clip, Tensor& guard, Tensor& norm) {
  kernels::step_guard(loss.data<float>(), squared_norm.data<double>(), clip, guard.data<float>(), norm.data<double>(),
                      context(loss.device().index).stream);
  RSD_CUDA_CHECK_LAUNCH("step guard");
}

}  // namespace rsd::cuda
