#include "models/init.h"

#include <cmath>

namespace rsd::models {

void kaiming_normal_fan_out(Tensor& w, int64_t fan_out, Generator& gen) {
  gen.normal_(w, 0.0, std::sqrt(2.0 / static_cast<double>(fan_out)));
}

void linear_default_uniform(Tensor& t, int64_t fan_in, Generator& gen) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  gen.uniform_(t, -bound, bound);
}

}  // namespace rsd::models
