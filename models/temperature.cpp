#include "models/temperature.h"

#include <cmath>

#include "engine/allocator.h"
#include "engine/ops/elementwise.h"

namespace rsd::models {

Temperature::Temperature(const LayerContext& ctx, double initial, bool learnable) : learnable_(learnable) {
  RSD_CHECK(initial > 0.0 && std::isfinite(initial), "temperature must be positive, got ", initial);
  ArenaSuspend persistent;
  if (learnable) {
    log_ = ctx.params.add(ctx.prefix + "log_temperature",
                          Tensor::full({1}, std::log(initial), DType::f32, ctx.device), true);
  } else {
    fixed_ = Tensor::full({1}, initial, DType::f32, ctx.device);
  }
}

Tensor Temperature::value() const { return learnable_ ? exp(log_) : fixed_; }

double Temperature::current() const { return learnable_ ? std::exp(log_.item()) : fixed_.item(); }

}  // namespace rsd::models
