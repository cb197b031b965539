#include "engine/cuda/context.h"

#include <memory>
#include <mutex>
#include <vector>

#include "engine/cuda/check.h"

namespace rsd::cuda {

const char* cublas_status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
  }
  return "unknown cuBLAS status";
}

namespace {

struct Probe {
  int count = 0;
  std::string reason;
};

const Probe& probe() {
  static const Probe p = [] {
    Probe r;
    const cudaError_t err = cudaGetDeviceCount(&r.count);
    if (err != cudaSuccess) {
      r.count = 0;
      r.reason = std::string("no usable GPU: cudaGetDeviceCount says ") + cudaGetErrorString(err);
      cudaGetLastError();  // clear the sticky error so later calls start clean
    } else if (r.count == 0) {
      r.reason = "no GPU found by the CUDA runtime";
    }
    return r;
  }();
  return p;
}

std::mutex g_mutex;
std::vector<std::unique_ptr<DeviceContext>> g_contexts;

}  // namespace

int device_count() { return probe().count; }
std::string unavailable_reason() { return probe().reason; }

DeviceContext& context(int device) {
  RSD_CHECK(device >= 0 && device < device_count(), "cuda:", device, " is not available (",
            device_count(), " GPUs", device_count() == 0 ? ": " + unavailable_reason() : "", ")");
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_contexts.size() < static_cast<size_t>(device_count())) g_contexts.resize(device_count());
  RSD_CUDA_CHECK(cudaSetDevice(device), "select cuda:", device);
  auto& slot = g_contexts[device];
  if (!slot) {
    auto ctx = std::make_unique<DeviceContext>();
    ctx->device = device;
    RSD_CUDA_CHECK(cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking), "compute stream for cuda:", device);
    RSD_CUBLAS_CHECK(cublasCreate(&ctx->cublas), "cuBLAS handle for cuda:", device);
    RSD_CUBLAS_CHECK(cublasSetStream(ctx->cublas, ctx->stream), "cuBLAS stream for cuda:", device);
    RSD_CUDNN_CHECK(cudnnCreate(&ctx->cudnn), "cuDNN handle for cuda:", device);
    RSD_CUDNN_CHECK(cudnnSetStream(ctx->cudnn, ctx->stream), "cuDNN stream for cuda:", device);
    slot = std::move(ctx);
  }
  return *slot;
}

void synchronize(int device) {
  DeviceContext& ctx = context(device);
  RSD_CUDA_CHECK(cudaStreamSynchronize(ctx.stream), "synchronize cuda:", device);
}

}  // namespace rsd::cuda
