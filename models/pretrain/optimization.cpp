#include "models/pretrain/optimization.h"

#include <cmath>

#include "engine/optim/adamw.h"
#include "engine/optim/lars.h"
#include "engine/optim/sgd.h"

namespace rsd::pretrain {

namespace {

double lr_scale(const TrainConfig& t) {
  return t.lr_scaling == "linear" ? static_cast<double>(t.batch_size * t.grad_accum) / 256.0 : 1.0;
}

}  // namespace

double effective_lr(const TrainConfig& t) { return t.lr * lr_scale(t); }

std::unique_ptr<Optimizer> make_optimizer(const TrainConfig& t, ParameterRegistry& params) {
  if (t.optimizer == "lars") {
    LarsOptions o;
    o.momentum = t.momentum;
    o.weight_decay = t.weight_decay;
    return std::make_unique<LARS>(params.parameters(), o);
  }
  if (t.optimizer == "sgd") {
    SgdOptions o;
    o.momentum = t.momentum;
    o.weight_decay = t.weight_decay;
    return std::make_unique<SGD>(params.parameters(), o);
  }
  RSD_CHECK(t.optimizer == "adamw", "train.optimizer must be lars, sgd or adamw, got '", t.optimizer, "'");
  AdamWOptions o;
  o.beta1 = t.beta1;
  o.beta2 = t.beta2;
  o.eps = t.adam_eps;
  o.weight_decay = t.weight_decay;
  return std::make_unique<AdamW>(params.parameters(), o);
}

WarmupCosine make_lr_schedule(const TrainConfig& t, int64_t total_steps) {
  const auto warmup = static_cast<int64_t>(std::floor(t.warmup_fraction * static_cast<double>(total_steps)));
  return WarmupCosine(effective_lr(t), warmup, total_steps, t.final_lr * lr_scale(t));
}

}  // namespace rsd::pretrain
