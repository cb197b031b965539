#include "engine/params.h"

#include "engine/allocator.h"

namespace rsd {

Tensor& ParameterRegistry::add(const std::string& name, Tensor value, bool exclude_from_decay) {
  RSD_CHECK(!name.empty(), "ParameterRegistry: a parameter needs a name");
  RSD_CHECK(index_.count(name) == 0, "ParameterRegistry: duplicate parameter name '", name, "'");
  RSD_CHECK(buffers_.count(name) == 0, "ParameterRegistry: parameter name '", name, "' is already a buffer");
  RSD_CHECK(value.defined(), "ParameterRegistry: parameter '", name, "' is an undefined tensor");
  RSD_CHECK(value.dtype() == DType::f32, "ParameterRegistry: parameter '", name, "' is ", value.describe(),
            ": parameters are f32 master weights (cast them, and cast copies for bf16 compute)");
  RSD_CHECK(params_.empty() || value.device() == device_, "ParameterRegistry: parameter '", name, "' is ",
            value.describe(), " but the registry's parameters are on ", device_.str());
  RSD_CHECK(value.impl()->is_leaf, "ParameterRegistry: parameter '", name, "' (", value.describe(),
            ") is the output of a recorded op; create parameters under NoGradScope");
  if (trainable_) {
    value.set_requires_grad(true);
    ArenaSuspend persistent;  // the gradient outlives every step
    value.set_grad(Tensor::zeros(value.shape(), DType::f32, value.device()));
  }
  device_ = value.device();
  index_[name] = params_.size();
  params_.push_back(std::make_unique<Parameter>(Parameter{name, std::move(value), exclude_from_decay}));
  return params_.back()->value;
}

Tensor& ParameterRegistry::add_buffer(const std::string& name, Tensor value) {
  RSD_CHECK(!name.empty(), "ParameterRegistry: a buffer needs a name");
  RSD_CHECK(buffers_.count(name) == 0, "ParameterRegistry: duplicate buffer name '", name, "'");
  RSD_CHECK(index_.count(name) == 0, "ParameterRegistry: buffer name '", name, "' is already a parameter");
  RSD_CHECK(value.defined(), "ParameterRegistry: buffer '", name, "' is an undefined tensor");
  return buffers_[name] = std::move(value);
}

void ParameterRegistry::zero_grad() {
  if (!trainable_) return;
  for (auto& p : params_) p->value.zero_grad();
}

std::vector<Parameter*> ParameterRegistry::parameters() {
  std::vector<Parameter*> out;
  out.reserve(params_.size());
  for (auto& p : params_) out.push_back(p.get());
  return out;
}

std::vector<const Parameter*> ParameterRegistry::parameters() const {
  std::vector<const Parameter*> out;
  out.reserve(params_.size());
  for (const auto& p : params_) out.push_back(p.get());
  return out;
}

Parameter* ParameterRegistry::find(const std::string& name) {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : params_[it->second].get();
}

const Parameter* ParameterRegistry::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : params_[it->second].get();
}

Tensor* ParameterRegistry::find_buffer(const std::string& name) {
  auto it = buffers_.find(name);
  return it == buffers_.end() ? nullptr : &it->second;
}

int64_t ParameterRegistry::numel() const {
  int64_t n = 0;
  for (const auto& p : params_) n += p->value.numel();
  return n;
}

}  // namespace rsd
