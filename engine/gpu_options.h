// Process-wide choices for the GPU math, set once from the run's config (train.deterministic,
// train.tf32, train.cudnn_workspace_mb) before the first step. On the CPU they change nothing.
#pragma once
#include <cstddef>

namespace rsd {

struct GpuMathOptions {
  // Only algorithms that give the same bits on every run (cuDNN's CUDNN_DETERMINISTIC: no atomics
  // in the backward convolutions), as the rest of the engine sums in a fixed order. Off: the
  // fastest algorithm whatever its determinism.
  bool deterministic = true;
  // fp32 convolutions may use TF32 tensor cores (10-bit mantissa products; PyTorch's default for
  // cuDNN). Off by default: precision = "fp32" means fp32 products, and the CUDA-vs-CPU parity of
  // the f32 path depends on it; for speed, bf16 (precision = "auto" on a GPU) is the way.
  bool tf32 = false;
  // The most device memory one convolution may use as cuDNN workspace. Algorithms that need more
  // are not considered; the device's one persistent workspace grows to the largest chosen need.
  size_t cudnn_workspace_bytes = size_t{256} << 20;
};

void set_gpu_math_options(const GpuMathOptions& options);
GpuMathOptions gpu_math_options();

}  // namespace rsd
