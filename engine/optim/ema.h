// Exponential moving average of one set of tensors towards another: BYOL's target network,
//   target = tau * target + (1 - tau) * online,
// with tau from CosineMomentum (engine/optim/schedule.h), applied after each optimizer step.
// Every tensor f32 on one device, each target the shape of its source. CPU: a float loop with the
// same arithmetic as the kernel; CUDA: one multi-tensor launch over a table built here, once.
#pragma once
#include <vector>

#include "engine/cuda/multi_tensor.h"
#include "engine/tensor.h"

namespace rsd {

class EmaUpdate {
 public:
  // targets[k] follows sources[k]. The tensors' storage must outlive this object.
  EmaUpdate(std::vector<Tensor> targets, std::vector<Tensor> sources);
  // tau in [0, 1]: 1 leaves the targets, 0 copies the sources.
  void update(double tau);
  // The training step's guard (engine/optim/optimizer.h): a skipped step leaves the targets.
  void set_guard(const Tensor& guard);

 private:
  std::vector<Tensor> targets_, sources_;
  cuda::MultiTensorTable table_;  // CUDA only
  Tensor guard_;
};

}  // namespace rsd
