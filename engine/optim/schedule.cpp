#include "engine/optim/schedule.h"

#include <cmath>

#include "engine/error.h"

namespace rsd {

namespace {
constexpr double kPi = 3.14159265358979323846;
}  // namespace

WarmupCosine::WarmupCosine(double base, int64_t warmup, int64_t total, double final_value)
    : base_lr(base), warmup_steps(warmup), total_steps(total), final_lr(final_value) {
  RSD_CHECK(total > 0, "WarmupCosine: total_steps ", total, " must be > 0");
  RSD_CHECK(warmup >= 0 && warmup <= total, "WarmupCosine: warmup_steps ", warmup, " must be in [0, total_steps = ",
            total, "]");
  RSD_CHECK(std::isfinite(base) && base >= 0.0 && std::isfinite(final_value) && final_value >= 0.0,
            "WarmupCosine: base_lr ", base, " and final_lr ", final_value, " must be finite and >= 0");
}

double WarmupCosine::lr(int64_t step) const {
  RSD_CHECK(step >= 0, "WarmupCosine: step ", step, " is negative");
  if (step >= total_steps) return final_lr;
  if (step < warmup_steps) return base_lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  const double progress = static_cast<double>(step - warmup_steps) / static_cast<double>(total_steps - warmup_steps);
  return final_lr + 0.5 * (base_lr - final_lr) * (1.0 + std::cos(kPi * progress));
}

CosineMomentum::CosineMomentum(double base, int64_t total) : tau_base(base), total_steps(total) {
  RSD_CHECK(total > 0, "CosineMomentum: total_steps ", total, " must be > 0");
  RSD_CHECK(base >= 0.0 && base <= 1.0, "CosineMomentum: tau_base ", base, " must be in [0, 1]");
}

double CosineMomentum::tau(int64_t step) const {
  RSD_CHECK(step >= 0, "CosineMomentum: step ", step, " is negative");
  if (step >= total_steps) return 1.0;
  const double progress = static_cast<double>(step) / static_cast<double>(total_steps);
  return 1.0 - (1.0 - tau_base) * (std::cos(kPi * progress) + 1.0) / 2.0;
}

}  // namespace rsd
