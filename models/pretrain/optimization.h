// The optimizer and learning-rate schedule of a pretraining run, from its [train] config.
// lr_scaling = "linear": the base lr is for 256 samples per optimizer step, as in SimCLR and BYOL:
//   lr = train.lr * batch_size * grad_accum / 256.
#pragma once
#include <memory>

#include "engine/optim/optimizer.h"
#include "engine/optim/schedule.h"
#include "models/pretrain/config.h"

namespace rsd::pretrain {

double effective_lr(const TrainConfig& t);
std::unique_ptr<Optimizer> make_optimizer(const TrainConfig& t, ParameterRegistry& params);
// Warm-up (train.warmup_fraction of the steps) then cosine to train.final_lr (scaled likewise).
WarmupCosine make_lr_schedule(const TrainConfig& t, int64_t total_steps);

}  // namespace rsd::pretrain
