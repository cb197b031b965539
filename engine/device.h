// Where a tensor lives. CUDA is compiled in when nvcc is found (RSD_HAVE_CUDA) and used at run time
// when a GPU is present; everything also runs on the CPU backend.
#pragma once
#include <string>

namespace rsd {

struct Device {
  enum class Kind : unsigned char { cpu, cuda };
  Kind kind = Kind::cpu;
  int index = 0;

  static Device cpu() { return Device{Kind::cpu, 0}; }
  static Device cuda(int i = 0) { return Device{Kind::cuda, i}; }
  bool is_cpu() const { return kind == Kind::cpu; }
  bool is_cuda() const { return kind == Kind::cuda; }
  std::string str() const;
  bool operator==(const Device& o) const { return kind == o.kind && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
};

// Parses "cpu", "cuda", "cuda:N", or "auto" (cuda:0 when a GPU is present, else cpu); an
// unavailable GPU is an error that says why.
Device parse_device(const std::string& name);

// True when this build holds the CUDA backend.
bool cuda_compiled();
// Number of usable GPUs: 0 when CUDA is not compiled in or no driver/device is present.
int cuda_device_count();
// A sentence for logs and skipped tests: why CUDA is not available (empty when it is).
std::string cuda_unavailable_reason();
// Waits for all queued work on the device (no-op on the CPU).
void synchronize(Device d);

}  // namespace rsd
