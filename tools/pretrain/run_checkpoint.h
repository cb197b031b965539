// What a pretraining checkpoint holds, and how a run is saved and restored (docs/checkpoint-format.md).
// Tensors: the method's parameters and buffers by name (online.encoder.conv1.weight, ...: the
// encoders under torchvision's names), its extra state (BYOL's target network), the optimizer's
// state as "optimizer.<parameter>.<state>". Metadata: format, method, step. Sidecar JSON: the
// config, the data statistics, the data position and RNG (seed; the loader resumes at batch
// step x grad_accum, and the views are a pure function of (seed, epoch, index)), the guard's
// counters and the views' bands.
#pragma once
#include <string>

#include "engine/checkpoint.h"
#include "engine/optim/optimizer.h"
#include "models/ssl_method.h"
#include "tools/pretrain/config.h"
#include "tools/pretrain/pretrain_data.h"

namespace rsd::tools {

struct RunCounters {
  int64_t step = 0;            // optimizer steps done
  int bad_in_a_row = 0;
  int64_t skipped_total = 0;
};

CheckpointContent make_run_checkpoint(const models::SslMethod& method, const Optimizer& optimizer,
                                      const RunCounters& counters, const PretrainConfig& config,
                                      const PretrainData& data);

// Restores every tensor the checkpoint holds for this method and optimizer (a missing one or a
// shape that differs is an rsd::Error naming it and the file: a checkpoint of another model or
// method), and returns the counters.
RunCounters restore_run_checkpoint(const LoadedCheckpoint& ckpt, models::SslMethod& method, Optimizer& optimizer);

// --init: parameters and buffers from a safetensors file, by exact name, or by the name under an
// encoder prefix ("conv1.weight" fills "online.encoder.conv1.weight": weights exported from a
// checkpoint or written by torchvision users). Returns how many tensors were loaded; an error
// when none matches.
int64_t load_initial_weights(const std::string& path, models::SslMethod& method);

}  // namespace rsd::tools
