// Step-indexed schedules (step counts from 0). The training loop asks for the value of each step:
//   opt.step(lr_schedule.lr(step));  target.ema_update(tau_schedule.tau(step));
#pragma once
#include <cstdint>

namespace rsd {

// Linear warm-up, then cosine decay to final_lr:
//   step <  W:          lr = base_lr * (step + 1) / W
//   W <= step < T:      lr = final_lr + 0.5 * (base_lr - final_lr) * (1 + cos(pi * (step - W) / (T - W)))
//   step >= T:          lr = final_lr
// with W = warmup_steps (0: no warm-up) and T = total_steps. The last warm-up step reaches base_lr,
// and the first cosine step is base_lr again. Needs 0 <= W <= T, T > 0; negative steps are errors.
struct WarmupCosine {
  double base_lr;
  int64_t warmup_steps;
  int64_t total_steps;
  double final_lr;

  WarmupCosine(double base_lr, int64_t warmup_steps, int64_t total_steps, double final_lr = 0.0);
  double lr(int64_t step) const;
};

// BYOL's target decay rate: cosine from tau_base at step 0 to 1 at step K = total_steps:
//   tau(k) = 1 - (1 - tau_base) * (cos(pi * k / K) + 1) / 2,   and tau(k) = 1 for k >= K.
// tau_base = 0 makes the target a copy of the online network at step 0 (SimSiam-like start).
struct CosineMomentum {
  double tau_base;
  int64_t total_steps;

  CosineMomentum(double tau_base, int64_t total_steps);
  double tau(int64_t step) const;
};

}  // namespace rsd
