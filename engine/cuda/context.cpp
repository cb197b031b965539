#include "engine/cuda/context.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>

#include "engine/cuda/check.h"
#include "engine/shutdown.h"

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

// Contexts are created once and never moved, so a published pointer stays valid: readers load it
// without the lock. kMaxDevices as the allocator's registry.
constexpr int kMaxDevices = 64;
std::mutex g_mutex;
std::atomic<DeviceContext*> g_contexts[kMaxDevices];
bool g_teardown_registered = false;  // under g_mutex

// This thread's current device as rsd last set it: rsd selects devices only through
// make_current(), so the cache stays true and the per-op cudaSetDevice is skipped.
thread_local int t_current_device = -1;

DeviceContext* create_context(int device) {
  auto ctx = std::make_unique<DeviceContext>();
  ctx->device = device;
  RSD_CUDA_CHECK(cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking), "compute stream for cuda:", device);
  RSD_CUBLAS_CHECK(cublasCreate(&ctx->cublas), "cuBLAS handle for cuda:", device);
  RSD_CUBLAS_CHECK(cublasSetStream(ctx->cublas, ctx->stream), "cuBLAS stream for cuda:", device);
  RSD_CUDNN_CHECK(cudnnCreate(&ctx->cudnn), "cuDNN handle for cuda:", device);
  RSD_CUDNN_CHECK(cudnnSetStream(ctx->cudnn, ctx->stream), "cuDNN stream for cuda:", device);
  return ctx.release();
}

// Shutdown, first phase: every device's queued work finishes, so the memory phase frees nothing
// still in use. Last phase: handles and streams go, before the runtime unloads.
void synchronize_all() {
  for (auto& slot : g_contexts) {
    if (DeviceContext* ctx = slot.load()) {
      if (try_make_current(ctx->device)) warn_on_release_error(cudaStreamSynchronize(ctx->stream), "synchronize");
    }
  }
}

void destroy_all() {
  for (auto& slot : g_contexts) {
    DeviceContext* ctx = slot.exchange(nullptr);
    if (ctx == nullptr) continue;
    try_make_current(ctx->device);
    cudnnDestroy(ctx->cudnn);    // their statuses at exit say nothing actionable
    cublasDestroy(ctx->cublas);
    warn_on_release_error(cudaStreamDestroy(ctx->stream), "destroy the compute stream");
    delete ctx;
  }
  t_current_device = -1;
}

void register_teardown() {
  if (g_teardown_registered) return;
  g_teardown_registered = true;
  on_shutdown(ShutdownPhase::synchronize, "synchronize the GPUs", synchronize_all);
  on_shutdown(ShutdownPhase::contexts, "destroy the CUDA contexts", destroy_all);
  // Registered after the CUDA runtime's own exit handler (the runtime is initialised by now), so
  // it runs before it: a program that returns from main without calling shutdown() is covered.
  std::atexit([] { shutdown(); });
}

}  // namespace

void warn_on_release_error(cudaError_t e, const char* what) noexcept {
  if (e == cudaSuccess || is_teardown_error(e)) return;
  std::fprintf(stderr, "rsd: warning: %s: %s\n", what, cudaGetErrorString(e));
}

void make_current(int device) {
  if (t_current_device == device) return;
  RSD_CUDA_CHECK(cudaSetDevice(device), "select cuda:", device);
  t_current_device = device;
}

bool try_make_current(int device) noexcept {
  if (t_current_device == device) return true;
  if (cudaSetDevice(device) != cudaSuccess) return false;
  t_current_device = device;
  return true;
}

int device_count() { return probe().count; }
std::string unavailable_reason() { return probe().reason; }

DeviceContext& context(int device) {
  if (device >= 0 && device < kMaxDevices) {
    if (DeviceContext* ctx = g_contexts[device].load(std::memory_order_acquire)) {
      make_current(device);
      return *ctx;
    }
  }
  RSD_CHECK(device >= 0 && device < device_count(), "cuda:", device, " is not available (",
            device_count(), " GPUs", device_count() == 0 ? ": " + unavailable_reason() : "", ")");
  RSD_CHECK(!is_shut_down(), "cuda:", device, " used after rsd::shutdown(): the engine's device state is gone");
  std::lock_guard<std::mutex> lock(g_mutex);
  make_current(device);
  DeviceContext* ctx = g_contexts[device].load();
  if (ctx == nullptr) {
    ctx = create_context(device);
    g_contexts[device].store(ctx, std::memory_order_release);
    register_teardown();
  }
  return *ctx;
}

void synchronize(int device) {
  DeviceContext& ctx = context(device);
  RSD_CUDA_CHECK(cudaStreamSynchronize(ctx.stream), "synchronize cuda:", device);
}

}  // namespace rsd::cuda
