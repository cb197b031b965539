// RS-BYOL (Grill et al. 2020, with bands and sensors as the augmentation): an online network
// (encoder, projector, predictor) learns to predict the target network's projection of the other
// view; the target network (encoder, projector) is an exponential moving average of the online
// one, tau rising from tau_base to 1 on a cosine schedule. The loss is symmetric:
//   L = cos_loss(q1, z2') + cos_loss(q2, z1'),   cos_loss(q, z) = mean_i (2 - 2 cos(q_i, z_i))
// (engine/ops/cosine_loss.h, the fused kernel on a GPU), with q = predictor(projector(encoder(v)))
// and z' = target projector(target encoder(v)) computed without gradients.
//
// Parameter names: online.encoder.* (torchvision's ResNet names), online.projector.{0,1,3}.*,
// online.predictor.{0,1,3}.*; the target network (extra_state): target.encoder.*,
// target.projector.*. The target starts as a copy of the online network and runs in training
// mode (batch statistics), as BYOL's does; its BN running statistics are its own.
#pragma once
#include <memory>

#include "engine/optim/ema.h"
#include "engine/optim/schedule.h"
#include "models/mlp_head.h"
#include "models/resnet.h"
#include "models/ssl_method.h"

namespace rsd::models {

struct ByolOptions {
  ResNetConfig encoder;            // in_channels: the channels of one view
  int projector_hidden = 4096;
  int projector_out = 256;
  int predictor_hidden = 4096;
  double tau_base = 0.99;
  int64_t total_steps = 1;         // of the tau schedule (the run's optimizer steps)
};

class Byol final : public SslMethod {
 public:
  Byol(const ByolOptions& options, Device device, Generator& gen);
  const char* name() const override { return "byol"; }
  SslOutput forward(const std::vector<Tensor>& views) override;
  void after_step(int64_t step) override;
  void set_step_guard(const Tensor& guard) override;
  void weights_loaded() override;
  std::map<std::string, double> scalars(int64_t step) const override;
  std::vector<std::pair<std::string, Tensor>> extra_state() const override;
  const ParameterRegistry& target_params() const { return target_params_; }

 private:
  Tensor online_prediction(const Tensor& view, Tensor* projection) const;
  Tensor target_projection(const Tensor& view) const;

  ByolOptions options_;
  ResNet online_encoder_;
  MlpHead online_projector_;
  MlpHead predictor_;
  ParameterRegistry target_params_{false};
  std::unique_ptr<ResNet> target_encoder_;
  std::unique_ptr<MlpHead> target_projector_;
  std::unique_ptr<EmaUpdate> ema_;
  CosineMomentum tau_schedule_;
};

}  // namespace rsd::models
