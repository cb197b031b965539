#include "models/byol.h"

#include "engine/autograd.h"
#include "engine/ops/cosine_loss.h"
#include "engine/ops/elementwise.h"

namespace rsd::models {

namespace {

const std::string kOnline = "online.", kTarget = "target.";

// Copies every online parameter and buffer into the target network's tensor of the same name;
// returns the (target, online) parameter pairs the EMA follows.
std::pair<std::vector<Tensor>, std::vector<Tensor>> copy_online_into_target(ParameterRegistry& online,
                                                                            ParameterRegistry& target) {
  std::vector<Tensor> targets, sources;
  for (Parameter* t : target.parameters()) {
    const Parameter* o = online.find(kOnline + t->name.substr(kTarget.size()));
    RSD_CHECK(o != nullptr, "BYOL: target parameter ", t->name, " has no online twin");
    t->value.copy_from(o->value);
    targets.push_back(t->value);
    sources.push_back(o->value);
  }
  for (const auto& [name, buffer] : target.buffers()) {
    Tensor* o = online.find_buffer(kOnline + name.substr(kTarget.size()));
    RSD_CHECK(o != nullptr, "BYOL: target buffer ", name, " has no online twin");
    Tensor b = buffer;
    b.copy_from(*o);
  }
  return {targets, sources};
}

}  // namespace

Byol::Byol(const ByolOptions& options, Device device, Generator& gen)
    : options_(options),
      online_encoder_(LayerContext{params_, gen, device, kOnline + "encoder."}, options.encoder),
      online_projector_(LayerContext{params_, gen, device, kOnline + "projector."}, online_encoder_.feature_dim(),
                        options.projector_hidden, options.projector_out),
      predictor_(LayerContext{params_, gen, device, kOnline + "predictor."}, options.projector_out,
                 options.predictor_hidden, options.projector_out),
      tau_schedule_(options.tau_base, options.total_steps) {
  // The target's initial values are overwritten by the copy below; its own generator keeps the
  // online network's draws independent of whether a target exists.
  Generator scratch(gen.seed() ^ 0x7a26e7ULL);
  target_encoder_ = std::make_unique<ResNet>(LayerContext{target_params_, scratch, device, kTarget + "encoder."},
                                             options.encoder);
  target_projector_ = std::make_unique<MlpHead>(LayerContext{target_params_, scratch, device, kTarget + "projector."},
                                                target_encoder_->feature_dim(), options.projector_hidden,
                                                options.projector_out);
  auto [targets, sources] = copy_online_into_target(params_, target_params_);
  ema_ = std::make_unique<EmaUpdate>(std::move(targets), std::move(sources));
}

Tensor Byol::online_prediction(const Tensor& view, Tensor* projection) const {
  Tensor z = online_projector_.forward(online_encoder_.forward(view, true), true);
  if (projection != nullptr) *projection = z;
  return predictor_.forward(z, true);
}

Tensor Byol::target_projection(const Tensor& view) const {
  NoGradScope no_grad;
  return target_projector_->forward(target_encoder_->forward(view, true), true);
}

SslOutput Byol::forward(const std::vector<Tensor>& views) {
  RSD_CHECK(views.size() == 2, "BYOL takes 2 views, got ", views.size());
  SslOutput out;
  Tensor q1 = online_prediction(views[0], &out.embedding);
  Tensor q2 = online_prediction(views[1], nullptr);
  Tensor z1 = target_projection(views[0]);
  Tensor z2 = target_projection(views[1]);
  out.loss = add(byol_cosine_loss(q1, z2), byol_cosine_loss(q2, z1));
  return out;
}

void Byol::weights_loaded() { copy_online_into_target(params_, target_params_); }

void Byol::after_step(int64_t step) { ema_->update(tau_schedule_.tau(step)); }

void Byol::set_step_guard(const Tensor& guard) { ema_->set_guard(guard); }

std::map<std::string, double> Byol::scalars(int64_t step) const { return {{"tau", tau_schedule_.tau(step)}}; }

std::vector<std::pair<std::string, Tensor>> Byol::extra_state() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const Parameter* p : target_params_.parameters()) out.emplace_back(p->name, p->value);
  for (const auto& [name, buffer] : target_params_.buffers()) out.emplace_back(name, buffer);
  return out;
}

}  // namespace rsd::models
