#include "engine/optim/sgd.h"

#include "engine/backend.h"

#if RSD_HAVE_CUDA
#include "engine/cuda/optim.h"
#endif

namespace rsd {

namespace cpu {

// p, g, v: (n,); v is null without momentum.
void sgd_update(float* p, const float* g, float* v, int64_t n, float lr, float momentum, float wd, bool nesterov) {
  for (int64_t i = 0; i < n; ++i) {
    const float d = g[i] + wd * p[i];
    float u = d;
    if (v != nullptr) {
      v[i] = momentum * v[i] + d;
      u = nesterov ? d + momentum * v[i] : v[i];
    }
    p[i] -= lr * u;
  }
}

}  // namespace cpu

SGD::SGD(const std::vector<Parameter*>& params, const SgdOptions& options)
    : Optimizer("SGD", params), options_(options) {
  RSD_CHECK(options.momentum >= 0.0 && options.momentum < 1.0, "SGD: momentum ", options.momentum,
            " must be in [0, 1)");
  RSD_CHECK(options.weight_decay >= 0.0, "SGD: weight decay ", options.weight_decay, " must be >= 0");
  RSD_CHECK(!options.nesterov || options.momentum > 0.0, "SGD: Nesterov needs a momentum > 0");
  if (options.momentum > 0.0)
    for (size_t i = 0; i < slots_.size(); ++i) slots_[i].state0 = add_state(i, "momentum");
  finish_construction();
}

void SGD::step(double lr) {
  if (!begin_step(lr)) return;  // skipped by the guard (CPU)
  const float flr = static_cast<float>(lr);
  const float mu = static_cast<float>(options_.momentum);
  const float wd = static_cast<float>(options_.weight_decay);
  if (device().is_cuda()) {
    RSD_CUDA_CALL(cuda::sgd_step(table_, flr, mu, wd, options_.nesterov, guard_pointer()));
    return;
  }
  for (Slot& s : slots_) {
    float* v = s.state0.defined() ? s.state0.data<float>() : nullptr;
    cpu::sgd_update(s.param.data<float>(), s.grad.data<float>(), v, s.param.numel(), flr, mu, s.excluded ? 0.0f : wd,
                    options_.nesterov);
  }
}

}  // namespace rsd
