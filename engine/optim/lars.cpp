#include "engine/optim/lars.h"

#include <cmath>

#include "engine/backend.h"

#if RSD_HAVE_CUDA
#include "engine/cuda/optim.h"
#endif

namespace rsd {

namespace cpu {

// eta * |p| / |d| with d = g + wd * p (norms accumulated in double), or 1 when a norm is 0.
float lars_trust(const float* p, const float* g, int64_t n, float wd, float eta) {
  double pp = 0.0, dd = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const float d = g[i] + wd * p[i];
    pp += static_cast<double>(p[i]) * p[i];
    dd += static_cast<double>(d) * d;
  }
  const float p_norm = static_cast<float>(std::sqrt(pp));
  const float d_norm = static_cast<float>(std::sqrt(dd));
  return (p_norm > 0.0f && d_norm > 0.0f) ? eta * p_norm / d_norm : 1.0f;
}

// p, g, v: (n,); v is null without momentum.
void lars_update(float* p, const float* g, float* v, int64_t n, float lr, float momentum, float wd, float trust) {
  for (int64_t i = 0; i < n; ++i) {
    float u = (g[i] + wd * p[i]) * trust;
    if (v != nullptr) {
      u = momentum * v[i] + u;
      v[i] = u;
    }
    p[i] -= lr * u;
  }
}

}  // namespace cpu

LARS::LARS(const std::vector<Parameter*>& params, const LarsOptions& options)
    : Optimizer("LARS", params), options_(options) {
  RSD_CHECK(options.momentum >= 0.0 && options.momentum < 1.0, "LARS: momentum ", options.momentum,
            " must be in [0, 1)");
  RSD_CHECK(options.eta > 0.0, "LARS: trust coefficient eta ", options.eta, " must be > 0");
  RSD_CHECK(options.weight_decay >= 0.0, "LARS: weight decay ", options.weight_decay, " must be >= 0");
  if (options.momentum > 0.0)
    for (size_t i = 0; i < slots_.size(); ++i) slots_[i].state0 = add_state(i, "momentum");
  finish_construction();
  if (device().is_cuda()) RSD_CUDA_CALL(workspace_ = cuda::lars_workspace(table_));
}

void LARS::step(double lr) {
  if (!begin_step(lr)) return;  // skipped by the guard (CPU)
  const float flr = static_cast<float>(lr);
  const float mu = static_cast<float>(options_.momentum);
  const float wd = static_cast<float>(options_.weight_decay);
  const float eta = static_cast<float>(options_.eta);
  if (device().is_cuda()) {
    RSD_CUDA_CALL(cuda::lars_step(table_, workspace_, flr, mu, wd, eta, guard_pointer()));
    return;
  }
  for (Slot& s : slots_) {
    float* p = s.param.data<float>();
    const float* g = s.grad.data<float>();
    const int64_t n = s.param.numel();
    const float slot_wd = s.excluded ? 0.0f : wd;
    const float trust = s.excluded ? 1.0f : cpu::lars_trust(p, g, n, slot_wd, eta);
    float* v = s.state0.defined() ? s.state0.data<float>() : nullptr;
    cpu::lars_update(p, g, v, n, flr, mu, slot_wd, trust);
  }
}

}  // namespace rsd
