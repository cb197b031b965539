// LARS (You et al. 2017) as BYOL, SimCLR and VICReg use it. Per parameter tensor:
//   d = g + weight_decay * p
//   trust = (|p| > 0 && |d| > 0) ? eta * |p| / |d| : 1      (|.|: L2 norm over the whole tensor)
//   excluded parameters (BN weights and biases, all biases): d = g and trust = 1
//   v = momentum * v + trust * d      (v starts at 0; no state when momentum == 0)
//   p -= lr * v                        (p -= lr * trust * d when momentum == 0)
// On CUDA a step is two fused multi-tensor launches, not one: the trust ratio of a tensor needs
// the norms of the whole tensor before any of its elements is updated, and a tensor spans many
// blocks, so one launch computes every tensor's norms and the next applies the update.
#pragma once
#include "engine/optim/optimizer.h"

namespace rsd {

struct LarsOptions {
  double momentum = 0.9;
  double eta = 0.001;  // trust coefficient
  double weight_decay = 1e-6;
};

class LARS final : public Optimizer {
 public:
  using Options = LarsOptions;
  LARS(const std::vector<Parameter*>& params, const Options& options = Options{});
  // Every parameter of the registry, in registration order.
  explicit LARS(ParameterRegistry& params, const Options& options = Options{})
      : LARS(params.parameters(), options) {}
  void step(double lr) override;
  const LarsOptions& options() const { return options_; }

 private:
  LarsOptions options_;
  Tensor workspace_;  // CUDA: per-chunk norm partials, allocated once
};

}  // namespace rsd
