// The global L2 norm of a model's gradients, and their scaling in place: gradient clipping, the
// training loop's NaN/Inf guard, and the gradient norm it logs.
//   GradientNorm norm(registry.parameters());
//   const double g = norm.compute();          // one 8-byte read from the GPU
//   if (clip > 0 && g > clip) norm.scale(clip / (g + 1e-6));
// CPU: a double sum over the f32 gradients. CUDA: one multi-tensor launch (float sums per chunk
// of 65536 elements, then a fixed-order double sum), so a run gives the same value every time.
// Any Inf or NaN gradient makes compute() return a non-finite value.
#pragma once
#include <vector>

#include "engine/cuda/multi_tensor.h"
#include "engine/params.h"
#include "engine/tensor.h"

namespace rsd {

class GradientNorm {
 public:
  // The gradient buffers of `params` (allocated by the registry, so their addresses are stable).
  explicit GradientNorm(const std::vector<Parameter*>& params);
  double compute() const;
  // The sum of squares, f64 {1} on the gradients' device, computed there: no read-back (the
  // training step's guard reads it on the device). The tensor is this object's, overwritten by
  // the next call.
  const Tensor& squared_on_device() const;
  // Every gradient multiplied by `factor`.
  void scale(double factor);

 private:
  std::vector<Tensor> grads_;
  cuda::MultiTensorTable table_;  // CUDA only: param = the gradient
  Tensor workspace_;              // CUDA only
  Tensor result_;                 // f64 {1} on the gradients' device
};

}  // namespace rsd
