#include "models/pretrain/method_factory.h"

#include "models/byol.h"
#include "models/dual_contrastive.h"
#include "models/simclr.h"

namespace rsd::pretrain {

models::ResNetConfig encoder_config(const ModelConfig& m, int channels) {
  models::ResNetConfig r;
  RSD_CHECK(m.arch.rfind("resnet", 0) == 0, "model.arch must be resnet18, resnet34 or resnet50, got '", m.arch, "'");
  r.depth = std::stoi(m.arch.substr(6));
  r.in_channels = channels;
  r.stem = models::parse_resnet_stem(m.stem);
  r.width = m.width;
  r.zero_init_residual = m.zero_init_residual;
  return r;
}

std::unique_ptr<models::SslMethod> make_method(const PretrainConfig& c, const std::vector<int64_t>& view_channels,
                                               Device device, int64_t total_steps) {
  RSD_CHECK(view_channels.size() == 2, "make_method: expected the channels of 2 views, got ", view_channels.size());
  Generator gen(c.seed);
  const int c0 = static_cast<int>(view_channels[0]), c1 = static_cast<int>(view_channels[1]);
  models::ContrastiveOptions co;
  co.encoder = encoder_config(c.model, c0);
  co.projector_hidden = c.model.projector_hidden;
  co.projector_out = c.model.projector_out;
  co.temperature = c.contrastive.temperature;
  co.learnable_temperature = c.contrastive.learnable_temperature;
  switch (c.method) {
    case PretrainMethod::byol: {
      models::ByolOptions o;
      o.encoder = encoder_config(c.model, c0);
      o.projector_hidden = c.model.projector_hidden;
      o.projector_out = c.model.projector_out;
      o.predictor_hidden = c.model.predictor_hidden;
      o.tau_base = c.byol.tau_base;
      o.total_steps = total_steps;
      return std::make_unique<models::Byol>(o, device, gen);
    }
    case PretrainMethod::dual_contrastive:
      return std::make_unique<models::DualContrastive>(co, c0, c1, device, gen);
    case PretrainMethod::simclr:
      return std::make_unique<models::SimClr>(co, c0, device, gen);
  }
  fail("make_method: unknown method");
}

}  // namespace rsd::pretrain
