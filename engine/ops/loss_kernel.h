// Which CUDA implementation a loss op runs. `fused` is the hand-written one-pass kernel; `plain`
// composes simple kernels with every intermediate materialized: the second check of the fused
// kernel and the baseline its benchmark is measured against. The CPU backend has one
// implementation and ignores the choice.
#pragma once

namespace rsd {

enum class LossKernel { fused, plain };

inline const char* loss_kernel_name(LossKernel k) {
  switch (k) {
    case LossKernel::fused: return "fused";
    case LossKernel::plain: return "plain";
  }
  return "unknown";
}

}  // namespace rsd
