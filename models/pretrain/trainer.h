// `rsd pretrain`: one self-supervised pretraining run from a config (docs/architecture.md, "The
// path of one training step"). Writes under config.log.out_dir:
//   checkpoints/step-XXXXXXXX.safetensors + .json   (every checkpoint.every steps and at the end)
//   metrics.jsonl   one JSON object per log.every steps: step, epoch, loss (mean over the window),
//                   lr, grad_norm, samples_per_s, tau / temperature, the collapse monitors, skipped
//   loss.png        the loss curve (log.plot)
//   config.toml     the resolved config, every key
// In a job of several processes (mpirun, srun, torchrun-style variables: engine/comm/bootstrap.h)
// every rank trains on its share of the global batch and rank 0 alone writes these files and the
// progress bar; a rank that fails ends the job on all ranks (Communicator::abort).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "models/pretrain/config.h"
#include "models/pretrain/train_step.h"

namespace rsd::pretrain {

struct PretrainRunOptions {
  std::string resume;              // a checkpoint file or directory; "" starts fresh
  std::string init;                // a safetensors file of initial weights; ""
  bool init_partial = false;       // --init-partial: load what fits, report the rest
  bool overwrite = false;          // --overwrite: remove the run the folder holds, then start fresh
  int64_t stop_after = -1;         // stop after this many optimizer steps as if interrupted (tests)
  bool quiet = false;              // no progress bar and no summary (tests)
  std::function<void(int64_t step, const StepResult&)> on_step;
};

struct PretrainResult {
  std::vector<double> losses;      // the loss of each step this process ran
  int64_t first_step = 0, last_step = 0;  // [first_step, last_step) ran here
  int64_t total_steps = 0;
  std::string checkpoint;          // the last checkpoint written ("" if none)
  std::string metrics, plot, out_dir;
  double samples_per_s = 0;        // over the whole run, after the first step
  std::string device;
  int rank = 0, world_size = 1;    // data-parallel: this process's rank (only rank 0 writes files)
};

PretrainResult run_pretrain(const PretrainConfig& config, const PretrainRunOptions& options = {});

}  // namespace rsd::pretrain
