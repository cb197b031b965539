#include "engine/cuda/readback.h"

#include "engine/cuda/check.h"
#include "engine/cuda/context.h"

namespace rsd::cuda {

void* create_event(int device) {
  context(device);
  cudaEvent_t e = nullptr;
  RSD_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "read-back event on cuda:", device);
  return e;
}

void destroy_event(void* event) noexcept {
  if (event != nullptr) warn_on_release_error(cudaEventDestroy(static_cast<cudaEvent_t>(event)), "cudaEventDestroy");
}

void copy_to_host_async(const Tensor& src, void* dst) {
  const DeviceContext& ctx = context(src.device().index);
  const size_t bytes = static_cast<size_t>(src.numel()) * dtype_size(src.dtype());
  RSD_CUDA_CHECK(cudaMemcpyAsync(dst, src.raw(), bytes, cudaMemcpyDeviceToHost, ctx.stream), "read-back of ",
                 src.describe());
}

void record_event(void* event, int device) {
  RSD_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(event), context(device).stream), "read-back event");
}

void wait_event(void* event) {
  RSD_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(event)), "wait for a read-back");
}

bool event_done(void* event) {
  const cudaError_t e = cudaEventQuery(static_cast<cudaEvent_t>(event));
  if (e == cudaErrorNotReady) return false;
  RSD_CUDA_CHECK(e, "query a read-back event");
  return true;
}

}  // namespace rsd::cuda
