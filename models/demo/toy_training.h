// The CPU training demo: the small CNN learns the synthetic bars task with SGD + Nesterov and a
// warm-up cosine schedule. Each step runs in the step arena (activations, temporaries, gradients of
// intermediates), which is reset after the optimizer step, so a steady-state step allocates nothing.
#pragma once
#include <functional>
#include <vector>

#include "engine/device.h"

namespace rsd::demo {

struct ToyTrainingConfig {
  int steps = 150;
  int batch = 32;
  int image_size = 12;
  int bands = 3;
  double lr = 0.05;
  uint64_t seed = 0;
  Device device = Device::cpu();
  // Called after every step with (step, loss, lr).
  std::function<void(int, double, double)> on_step;
};

struct ToyTrainingResult {
  std::vector<double> losses;   // one per step
  double final_loss = 0.0;      // mean of the last 10 steps
  double eval_accuracy = 0.0;   // on 256 held-out images, eval-mode batch norm
  int64_t steady_state_raw_allocs = 0;  // raw allocations made after the second step (should be 0)
  int64_t parameters = 0;
};

ToyTrainingResult train_toy_classifier(const ToyTrainingConfig& config);

}  // namespace rsd::demo
