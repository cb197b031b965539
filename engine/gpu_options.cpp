#include "engine/gpu_options.h"

#include <atomic>

namespace rsd {

namespace {
// Read by every convolution call: atomics, not a lock. Set before the first step.
std::atomic<bool> g_deterministic{GpuMathOptions{}.deterministic};
std::atomic<bool> g_tf32{GpuMathOptions{}.tf32};
std::atomic<size_t> g_workspace_bytes{GpuMathOptions{}.cudnn_workspace_bytes};
}  // namespace

void set_gpu_math_options(const GpuMathOptions& options) {
  g_deterministic = options.deterministic;
  g_tf32 = options.tf32;
  g_workspace_bytes = options.cudnn_workspace_bytes;
}

GpuMathOptions gpu_math_options() {
  GpuMathOptions o;
  o.deterministic = g_deterministic.load(std::memory_order_relaxed);
  o.tf32 = g_tf32.load(std::memory_order_relaxed);
  o.cudnn_workspace_bytes = g_workspace_bytes.load(std::memory_order_relaxed);
  return o;
}

}  // namespace rsd
