// Weight initialization (He et al. 2015 and PyTorch's defaults), reproducible through Generator.
#pragma once
#include "engine/rng.h"

namespace rsd::models {

// normal(0, sqrt(2 / fan_out)): torchvision's ResNet conv init (kaiming_normal_, mode="fan_out", relu).
void kaiming_normal_fan_out(Tensor& w, int64_t fan_out, Generator& gen);
// uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's nn.Linear default for weights and biases.
void linear_default_uniform(Tensor& t, int64_t fan_in, Generator& gen);

}  // namespace rsd::models
