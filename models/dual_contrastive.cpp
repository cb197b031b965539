#include "models/dual_contrastive.h"

#include "models/contrastive_loss.h"

namespace rsd::models {

ResNetConfig encoder_config(const ContrastiveOptions& options, int channels) {
  ResNetConfig c = options.encoder;
  c.in_channels = channels;
  return c;
}

DualContrastive::DualContrastive(const ContrastiveOptions& options, int s1_channels, int s2_channels, Device device,
                                 Generator& gen)
    : s1_encoder_(LayerContext{params_, gen, device, "s1.encoder."}, encoder_config(options, s1_channels)),
      s1_projector_(LayerContext{params_, gen, device, "s1.projector."}, s1_encoder_.feature_dim(),
                    options.projector_hidden, options.projector_out),
      s2_encoder_(LayerContext{params_, gen, device, "s2.encoder."}, encoder_config(options, s2_channels)),
      s2_projector_(LayerContext{params_, gen, device, "s2.projector."}, s2_encoder_.feature_dim(),
                    options.projector_hidden, options.projector_out),
      temperature_(LayerContext{params_, gen, device, ""}, options.temperature, options.learnable_temperature) {}

SslOutput DualContrastive::forward(const std::vector<Tensor>& views) {
  RSD_CHECK(views.size() == 2, "dual-contrastive takes 2 views (S1, S2), got ", views.size());
  SslOutput out;
  Tensor za = s1_projector_.forward(s1_encoder_.forward(views[0], true), true);
  Tensor zb = s2_projector_.forward(s2_encoder_.forward(views[1], true), true);
  out.embedding = za;
  out.loss = contrastive_loss(za, zb, temperature_.value(), comm_);
  return out;
}

std::map<std::string, double> DualContrastive::scalars(int64_t /*step*/) const {
  return {{"temperature", temperature_.current()}};
}

}  // namespace rsd::models
