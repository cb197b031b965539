// `rsd devices`: whether this build has CUDA and which GPUs it sees, and what computes on the CPU.
#include <cstdio>

#include "engine/device.h"
#include "engine/op.h"
#include "engine/threads.h"
#include "tools/commands/commands.h"

namespace rsd::commands {

void print_compute_line(const std::string& device) {
  const Device d = parse_device(device);
  if (d.is_cuda()) {
    std::printf("compute: %s\n", d.str().c_str());
  } else {
    std::printf("compute: cpu (%s)\n", describe_cpu_compute().c_str());
  }
  std::fflush(stdout);
}

void add_devices_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("devices", "Show whether this build has CUDA and which GPUs it sees");
  cmd->callback([] {
    std::printf("CUDA backend compiled: %s\n", cuda_compiled() ? "yes" : "no");
    const int n = cuda_device_count();
    if (n == 0) {
      std::printf("GPUs: none (%s); everything runs on the CPU backend\n", cuda_unavailable_reason().c_str());
    } else {
      std::printf("GPUs: %d (use --device cuda:N)\n", n);
    }
    std::printf("oneDNN CPU backend compiled: %s\n", cpu_backend_available(Backend::onednn) ? "yes" : "no");
    std::printf("CPU: %s (RSD_CPU_BACKEND=reference|onednn, --threads N)\n", describe_cpu_compute().c_str());
  });
}

}  // namespace rsd::commands
