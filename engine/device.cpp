#include "engine/device.h"

#include "engine/error.h"

#if RSD_HAVE_CUDA
#include "engine/cuda/context.h"
#endif

namespace rsd {

std::string Device::str() const { return is_cpu() ? "cpu" : str_cat("cuda:", index); }

Device parse_device(const std::string& name) {
  if (name == "auto") return cuda_device_count() > 0 ? Device::cuda(0) : Device::cpu();
  if (name == "cpu") return Device::cpu();
  if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
    int index = 0;
    if (name.size() > 5) {
      const std::string digits = name.substr(5);
      RSD_CHECK(digits.find_first_not_of("0123456789") == std::string::npos, "device '", name,
                "': expected cuda:N with N a GPU index");
      index = std::stoi(digits);
    }
    RSD_CHECK(index < cuda_device_count(), "device ", name, " is not available: ",
              cuda_device_count() == 0 ? cuda_unavailable_reason() : str_cat(cuda_device_count(), " GPU(s) present"));
    return Device::cuda(index);
  }
  fail("device must be auto, cpu, cuda or cuda:N, got '", name, "'");
}

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
