#include "engine/device.h"

#include "engine/error.h"

#if RSD_HAVE_CUDA
#include "engine/cuda/context.h"
#endif

namespace rsd {

std::string Device::str() const { return is_cpu() ? "cpu" : str_cat("cuda:", index); }

bool cuda_compiled() { return RSD_HAVE_CUDA != 0; }

#if RSD_HAVE_CUDA
int cuda_device_count() { return cuda::device_count(); }
std::string cuda_unavailable_reason() { return cuda::unavailable_reason(); }
void synchronize(Device d) {
  if (d.is_cuda()) cuda::synchronize(d.index);
}
#else
int cuda_device_count() { return 0; }
std::string cuda_unavailable_reason() { return "this build of rsd has no CUDA backend (RSD_CUDA=OFF or nvcc not found)"; }
void synchronize(Device) {}
#endif

}  // namespace rsd
