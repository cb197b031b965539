#include "models/simclr.h"

#include "models/contrastive_loss.h"

namespace rsd::models {

SimClr::SimClr(const ContrastiveOptions& options, int channels, Device device, Generator& gen)
    : encoder_(LayerContext{params_, gen, device, "encoder."}, encoder_config(options, channels)),
      projector_(LayerContext{params_, gen, device, "projector."}, encoder_.feature_dim(), options.projector_hidden,
                 options.projector_out),
      temperature_(LayerContext{params_, gen, device, ""}, options.temperature, options.learnable_temperature) {}

SslOutput SimClr::forward(const std::vector<Tensor>& views) {
  RSD_CHECK(views.size() == 2, "SimCLR takes 2 views, got ", views.size());
  SslOutput out;
  Tensor z1 = projector_.forward(encoder_.forward(views[0], true), true);
  Tensor z2 = projector_.forward(encoder_.forward(views[1], true), true);
  out.embedding = z1;
  out.loss = contrastive_loss(z1, z2, temperature_.value(), comm_);
  return out;
}

std::map<std::string, double> SimClr::scalars(int64_t /*step*/) const {
  return {{"temperature", temperature_.current()}};
}

}  // namespace rsd::models
