// AdamW (Loshchilov & Hutter), PyTorch's order. At step t (1-based), per element:
//   p *= 1 - lr * weight_decay          (not for parameters excluded from decay)
//   m  = beta1 * m + (1 - beta1) * g
//   v  = beta2 * v + (1 - beta2) * g^2
//   p -= lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
// m and v start at 0. The bias corrections are computed in double, applied in float.
#pragma once
#include "engine/optim/optimizer.h"

namespace rsd {

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.01;
};

class AdamW final : public Optimizer {
 public:
  using Options = AdamWOptions;
  AdamW(const std::vector<Parameter*>& params, const Options& options = Options{});
  // Every parameter of the registry, in registration order.
  explicit AdamW(ParameterRegistry& params, const Options& options = Options{})
      : AdamW(params.parameters(), options) {}
  void step(double lr) override;
  const AdamWOptions& options() const { return options_; }

 private:
  AdamWOptions options_;
};

}  // namespace rsd
