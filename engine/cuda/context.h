// Per-device CUDA state: the compute stream, the cuBLAS and cuDNN handles bound to it. Created
// lazily on first use of a device and kept for the life of the process. One compute stream per
// device: all ops are ordered on it, which is what makes the allocator's reuse of freed memory safe.
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

// Makes `device` current on this thread and returns its context.
DeviceContext& context(int device);

}  // namespace rsd::cuda
