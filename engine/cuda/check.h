// Checked CUDA, cuBLAS and cuDNN calls. Each failure names the call, the status string and what
// the engine was doing (op and shapes), e.g.
//   RSD_CUDA_CHECK(cudaMemcpyAsync(...), "to_device f32[3,4]");
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "engine/error.h"

namespace rsd::cuda {

const char* cublas_status_name(cublasStatus_t s);

// Errors a release may meet when the process is ending: the runtime is unloading or the context is
// gone, so the memory or handle goes with it. Not worth a word.
inline bool is_teardown_error(cudaError_t e) {
  return e == cudaErrorCudartUnloading || e == cudaErrorContextIsDestroyed;
}

// For release paths that must not throw (destructors, shutdown): teardown errors are accepted,
// anything else is printed as a warning naming `what`.
void warn_on_release_error(cudaError_t e, const char* what) noexcept;

}  // namespace rsd::cuda

#define RSD_CUDA_CHECK(call, ...)                                                              \
  do {                                                                                         \
    const cudaError_t rsd_err_ = (call);                                                       \
    if (rsd_err_ != cudaSuccess)                                                               \
      ::rsd::fail("CUDA error in ", #call, ": ", cudaGetErrorString(rsd_err_), " [",           \
                  ::rsd::str_cat(__VA_ARGS__), "] at ", __FILE__, ":", __LINE__);              \
  } while (0)

#define RSD_CUBLAS_CHECK(call, ...)                                                            \
  do {                                                                                         \
    const cublasStatus_t rsd_st_ = (call);                                                     \
    if (rsd_st_ != CUBLAS_STATUS_SUCCESS)                                                      \
      ::rsd::fail("cuBLAS error in ", #call, ": ", ::rsd::cuda::cublas_status_name(rsd_st_),   \
                  " [", ::rsd::str_cat(__VA_ARGS__), "] at ", __FILE__, ":", __LINE__);        \
  } while (0)

#define RSD_CUDNN_CHECK(call, ...)                                                             \
  do {                                                                                         \
    const cudnnStatus_t rsd_st_ = (call);                                                      \
    if (rsd_st_ != CUDNN_STATUS_SUCCESS)                                                       \
      ::rsd::fail("cuDNN error in ", #call, ": ", cudnnGetErrorString(rsd_st_), " [",          \
                  ::rsd::str_cat(__VA_ARGS__), "] at ", __FILE__, ":", __LINE__);              \
  } while (0)

// After a kernel launch: launch-configuration errors surface here, naming the kernel's op.
#define RSD_CUDA_CHECK_LAUNCH(...) RSD_CUDA_CHECK(cudaGetLastError(), __VA_ARGS__)
