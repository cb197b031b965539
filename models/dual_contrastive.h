// The dual-encoder contrastive method (Jain, Wilson and Gulshan): an S1 encoder and an S2 encoder
// with separate weights, each with its projector; the two sensors of one place are the positive
// pair and every other place in the batch a negative:
//   L = info_nce(projector_s1(encoder_s1(S1)), projector_s2(encoder_s2(S2)), temperature)
// symmetric (S1 -> S2 and S2 -> S1 averaged), L2 normalization inside the op
// (engine/ops/info_nce.h: the fused flash-style kernel on a GPU). Temperature fixed or learnable.
//
// Parameter names: s1.encoder.*, s2.encoder.* (torchvision's ResNet names), s1.projector.{0,1,3}.*,
// s2.projector.*, and log_temperature when learnable.
#pragma once
#include "models/mlp_head.h"
#include "models/resnet.h"
#include "models/ssl_method.h"
#include "models/temperature.h"

namespace rsd::models {

struct ContrastiveOptions {
  ResNetConfig encoder;        // in_channels is set per encoder / view
  int projector_hidden = 2048;
  int projector_out = 128;
  double temperature = 0.1;
  bool learnable_temperature = false;
};

// options.encoder with in_channels = channels.
ResNetConfig encoder_config(const ContrastiveOptions& options, int channels);

class DualContrastive final : public SslMethod {
 public:
  // s1_channels, s2_channels: the bands of the S1 and S2 views.
  DualContrastive(const ContrastiveOptions& options, int s1_channels, int s2_channels, Device device, Generator& gen);
  const char* name() const override { return "dual-contrastive"; }
  // views[0]: S1 (N, H, W, s1_channels); views[1]: S2 (N, H, W, s2_channels), the same places.
  SslOutput forward(const std::vector<Tensor>& views) override;
  std::map<std::string, double> scalars(int64_t step) const override;

 private:
  ResNet s1_encoder_;
  MlpHead s1_projector_;
  ResNet s2_encoder_;
  MlpHead s2_projector_;
  Temperature temperature_;
};

}  // namespace rsd::models
