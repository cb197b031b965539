// Per-device CUDA state: the compute stream, the cuBLAS and cuDNN handles bound to it. Created
// lazily on first use of a device and destroyed by rsd::shutdown() (engine/shutdown.h), which the
// first context registers with std::atexit. One compute stream per device: all ops are ordered on
// it, which is what makes the allocator's reuse of freed memory safe.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <string>

namespace rsd::cuda {

int device_count();
std::string unavailable_reason();
void synchronize(int device);

struct DeviceContext {
  int device = 0;
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  cudnnHandle_t cudnn = nullptr;
};

// Makes `device` current on this thread (cudaSetDevice, skipped when it already is). rsd selects
// devices only through this and context(), never with cudaSetDevice directly.
void make_current(int device);
// The same for destructors and teardown: false instead of an exception.
bool try_make_current(int device) noexcept;

// Makes `device` current on this thread and returns its context. Called by every op: after the
// first call per device it takes no lock, and it calls cudaSetDevice only when this thread's
// current device changes.
DeviceContext& context(int device);

}  // namespace rsd::cuda
