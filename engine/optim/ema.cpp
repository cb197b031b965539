#include "engine/optim/ema.h"

#include "engine/backend.h"
#include "engine/error.h"

#if RSD_HAVE_CUDA
#include "engine/cuda/multi_tensor_ops.h"
#endif

namespace rsd {

EmaUpdate::EmaUpdate(std::vector<Tensor> targets, std::vector<Tensor> sources)
    : targets_(std::move(targets)), sources_(std::move(sources)) {
  RSD_CHECK(targets_.size() == sources_.size(), "EMA: ", targets_.size(), " targets for ", sources_.size(),
            " sources");
  RSD_CHECK(!targets_.empty(), "EMA: no tensors");
  const Device device = targets_.front().device();
  for (size_t k = 0; k < targets_.size(); ++k) {
    const Tensor& t = targets_[k];
    const Tensor& s = sources_[k];
    RSD_CHECK(t.dtype() == DType::f32 && s.dtype() == DType::f32, "EMA: tensors must be f32, got target ",
              t.describe(), " and source ", s.describe());
    RSD_CHECK(t.shape() == s.shape(), "EMA: target ", t.describe(), " and source ", s.describe(), " differ in shape");
    RSD_CHECK(t.device() == device && s.device() == device, "EMA: every tensor must be on ", device.str(),
              "; got target ", t.describe(), " and source ", s.describe());
  }
  if (device.is_cuda()) {
    std::vector<cuda::MultiTensorEntry> entries;
    for (size_t k = 0; k < targets_.size(); ++k) entries.push_back({targets_[k], sources_[k], {}, {}, false});
    RSD_CUDA_CALL(table_ = cuda::build_multi_tensor_table(entries, "EMA"));
  }
}

void EmaUpdate::set_guard(const Tensor& guard) {
  RSD_CHECK(!guard.defined() || (guard.dtype() == DType::f32 && guard.numel() == 2 &&
                                 guard.device() == targets_.front().device()),
            "EMA: the step guard must be two f32 on ", targets_.front().device().str(), ", got ", guard.describe());
  guard_ = guard;
}

void EmaUpdate::update(double tau) {
  RSD_CHECK(tau >= 0.0 && tau <= 1.0, "EMA: tau must lie in [0, 1], got ", tau);
  const float* guard = guard_.defined() ? guard_.data<float>() : nullptr;
  if (targets_.front().is_cuda()) {
    RSD_CUDA_CALL(cuda::ema_update(table_, static_cast<float>(tau), guard));
    return;
  }
  if (guard != nullptr && guard[0] != 0.0f) return;  // a skipped step moves no weights
  const float keep = static_cast<float>(tau), take = 1.0f - keep;
  for (size_t k = 0; k < targets_.size(); ++k) {
    float* t = targets_[k].data<float>();
    const float* s = sources_[k].data<float>();
    for (int64_t i = 0, n = targets_[k].numel(); i < n; ++i) t[i] = keep * t[i] + take * s[i];
  }
}

}  // namespace rsd
