// SGD with momentum, Nesterov and weight decay, PyTorch semantics (dampening 0). Per element:
//   g' = g + weight_decay * p        (no decay for parameters excluded from decay)
//   v  = momentum * v + g'           (v starts at 0; no state when momentum == 0)
//   u  = nesterov ? g' + momentum * v : v     (u = g' when momentum == 0)
//   p -= lr * u
#pragma once
#include "engine/optim/optimizer.h"

namespace rsd {

struct SgdOptions {
  double momentum = 0.9;
  double weight_decay = 0.0;
  bool nesterov = false;
};

class SGD final : public Optimizer {
 public:
  using Options = SgdOptions;
  SGD(const std::vector<Parameter*>& params, const Options& options = Options{});
  // Every parameter of the registry, in registration order.
  explicit SGD(ParameterRegistry& params, const Options& options = Options{})
      : SGD(params.parameters(), options) {}
  void step(double lr) override;
  const SgdOptions& options() const { return options_; }

 private:
  SgdOptions options_;
};

}  // namespace rsd
