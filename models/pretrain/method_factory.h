// Builds the method a config names, with encoders sized for the data's views.
#pragma once
#include <memory>

#include "models/pretrain/config.h"
#include "models/pretrain/pretrain_data.h"
#include "models/resnet.h"
#include "models/ssl_method.h"

namespace rsd::pretrain {

// The encoder of [model] ("resnet50" -> depth 50, stem, width, zero-init) with `channels` inputs.
models::ResNetConfig encoder_config(const ModelConfig& m, int channels);

// view_channels: the channels of each view (PretrainData::view_channels). total_steps: the run's
// optimizer steps (BYOL's tau schedule). Initial weights are drawn from a generator seeded with
// config.seed, so two runs with one seed start from the same weights.
std::unique_ptr<models::SslMethod> make_method(const PretrainConfig& config, const std::vector<int64_t>& view_channels,
                                               Device device, int64_t total_steps);

}  // namespace rsd::pretrain
