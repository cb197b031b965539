#include "engine/optim/adamw.h"

#include <cmath>

#include "engine/backend.h"

#if RSD_HAVE_CUDA
#include "engine/cuda/optim.h"
#endif

namespace rsd {

namespace cpu {

struct AdamWScalars {
  float lr, beta1, beta2, eps;
  float decay;         // 1 - lr * weight_decay, or 1 for excluded parameters
  float bias1, bias2;  // 1 - beta^t
};

// p, g, m, v: (n,).
void adamw_update(float* p, const float* g, float* m, float* v, int64_t n, const AdamWScalars& k) {
  for (int64_t i = 0; i < n; ++i) {
    m[i] = k.beta1 * m[i] + (1.0f - k.beta1) * g[i];
    v[i] = k.beta2 * v[i] + (1.0f - k.beta2) * g[i] * g[i];
    const float m_hat = m[i] / k.bias1;
    const float v_hat = v[i] / k.bias2;
    p[i] = p[i] * k.decay - k.lr * m_hat / (std::sqrt(v_hat) + k.eps);
  }
}

}  // namespace cpu

AdamW::AdamW(const std::vector<Parameter*>& params, const AdamWOptions& options)
    : Optimizer("AdamW", params), options_(options) {
  RSD_CHECK(options.beta1 >= 0.0 && options.beta1 < 1.0, "AdamW: beta1 ", options.beta1, " must be in [0, 1)");
  RSD_CHECK(options.beta2 >= 0.0 && options.beta2 < 1.0, "AdamW: beta2 ", options.beta2, " must be in [0, 1)");
  RSD_CHECK(options.eps > 0.0, "AdamW: eps ", options.eps, " must be > 0");
  RSD_CHECK(options.weight_decay >= 0.0, "AdamW: weight decay ", options.weight_decay, " must be >= 0");
  for (size_t i = 0; i < slots_.size(); ++i) {
    slots_[i].state0 = add_state(i, "exp_avg");
    slots_[i].state1 = add_state(i, "exp_avg_sq");
  }
  finish_construction();
}

void AdamW::step(double lr) {
  if (!begin_step(lr)) return;  // skipped by the guard (CPU)
  const int64_t t = step_count();
  const float flr = static_cast<float>(lr);
  const float b1 = static_cast<float>(options_.beta1);
  const float b2 = static_cast<float>(options_.beta2);
  const float eps = static_cast<float>(options_.eps);
  const float wd = static_cast<float>(options_.weight_decay);
  if (device().is_cuda()) {
    RSD_CUDA_CALL(cuda::adamw_step(table_, flr, b1, b2, eps, wd, t, guard_pointer()));
    return;
  }
  // As the CUDA launcher does: powers of the float betas, in double.
  const float bias1 = static_cast<float>(1.0 - std::pow(static_cast<double>(b1), static_cast<double>(t)));
  const float bias2 = static_cast<float>(1.0 - std::pow(static_cast<double>(b2), static_cast<double>(t)));
  for (Slot& s : slots_) {
    const float decay = s.excluded ? 1.0f : 1.0f - flr * wd;
    const cpu::AdamWScalars k{flr, b1, b2, eps, decay, bias1, bias2};
    cpu::adamw_update(s.param.data<float>(), s.grad.data<float>(), s.state0.data<float>(), s.state1.data<float>(),
                      s.param.numel(), k);
  }
}

}  // namespace rsd
