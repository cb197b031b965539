#include "engine/optim/optimizer.h"

#include <cmath>
#include <set>

#include "engine/allocator.h"
#include "engine/backend.h"

namespace rsd {

namespace {

void check_parameter(const std::string& opt, const Parameter& p, Device device) {
  RSD_CHECK(p.value.defined(), opt, ": parameter '", p.name, "' is an undefined tensor");
  RSD_CHECK(p.value.dtype() == DType::f32, opt, ": parameter '", p.name, "' is ", p.value.describe(),
            ": optimizers update f32 master weights");
  RSD_CHECK(p.value.device() == device, opt, ": parameter '", p.name, "' is ", p.value.describe(),
            " but the first parameter is on ", device.str(), ": all parameters must be on one device");
  const Tensor g = p.value.grad();
  RSD_CHECK(g.defined(), opt, ": parameter '", p.name, "' (", p.value.describe(),
            ") has no gradient buffer: register it with ParameterRegistry::add");
  RSD_CHECK(g.dtype() == DType::f32 && g.shape() == p.value.shape() && g.device() == device, opt,
            ": parameter '", p.name, "' (", p.value.describe(), ") has gradient ", g.describe());
}

}  // namespace

Optimizer::Optimizer(std::string name, const std::vector<Parameter*>& params) : name_(std::move(name)) {
  RSD_CHECK(!params.empty(), name_, ": no parameters to optimize");
  for (const Parameter* p : params) RSD_CHECK(p != nullptr, name_, ": null parameter");
  device_ = params.front()->value.defined() ? params.front()->value.device() : Device::cpu();
  std::set<const TensorImpl*> seen;
  for (const Parameter* p : params) {
    check_parameter(name_, *p, device_);
    RSD_CHECK(seen.insert(p->value.impl()).second, name_, ": parameter '", p->name,
              "' is listed twice (it would be updated twice per step)");
    Slot s;
    s.name = p->name;
    s.param = p->value;
    s.grad = p->value.grad();
    s.excluded = p->exclude_from_decay;
    s.grad_address = s.grad.raw();
    slots_.push_back(std::move(s));
  }
}

Tensor Optimizer::add_state(size_t i, const char* state_name) {
  ArenaSuspend persistent;  // state lives as long as the optimizer
  Tensor t = Tensor::zeros(slots_[i].param.shape(), DType::f32, device_);
  state_.emplace_back(str_cat(slots_[i].name, ".", state_name), t);
  return t;
}

void Optimizer::finish_construction() {
  if (!device_.is_cuda()) return;
  std::vector<cuda::MultiTensorEntry> entries;
  for (const Slot& s : slots_) entries.push_back(cuda::MultiTensorEntry{s.param, s.grad, s.state0, s.state1, s.excluded});
  RSD_CUDA_CALL(table_ = cuda::build_multi_tensor_table(entries, name_.c_str()));
}

void Optimizer::set_step_count(int64_t steps) {
  RSD_CHECK(steps >= 0, name_, ": step count ", steps, " is negative");
  step_count_ = steps;
}

void Optimizer::set_guard(const Tensor& guard) {
  RSD_CHECK(!guard.defined() || (guard.dtype() == DType::f32 && guard.numel() == 2 && guard.device() == device_),
            name_, ": the step guard must be two f32 on ", device_.str(), ", got ", guard.describe());
  guard_ = guard;
}

const float* Optimizer::guard_pointer() const { return guard_.defined() ? guard_.data<float>() : nullptr; }

bool Optimizer::begin_step(double lr) {
  RSD_CHECK(std::isfinite(lr) && lr >= 0.0, name_, ": learning rate ", lr, " (must be finite and >= 0)");
  for (const Slot& s : slots_) {
    // The CUDA table holds the gradient's address; a replaced buffer would be silently ignored.
    RSD_CHECK(s.param.grad().defined() && s.param.grad().raw() == s.grad_address, name_, ": the gradient of '",
              s.name, "' (", s.param.describe(), ") was replaced since the optimizer was built; zero it in place "
              "(ParameterRegistry::zero_grad) instead of assigning a new one");
  }
  if (guard_.defined() && !device_.is_cuda()) {
    const float* g = guard_.data<float>();
    if (g[0] != 0.0f) return false;
    if (g[1] != 1.0f) {
      for (Slot& s : slots_) {
        float* p = s.grad.data<float>();
        for (int64_t i = 0, n = s.grad.numel(); i < n; ++i) p[i] *= g[1];
      }
    }
  }
  ++step_count_;
  return true;
}

}  // namespace rsd
