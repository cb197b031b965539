// What a pretraining checkpoint holds, and how a run is saved and restored (docs/checkpoint-format.md).
// Tensors: the method's parameters and buffers by name (online.encoder.conv1.weight, ...: the
// encoders under torchvision's names), its extra state (BYOL's target network), the optimizer's
// state as "optimizer.<parameter>.<state>". Metadata: format, method, step. Sidecar JSON: the
// config, the data statistics, the data position and RNG (seed; the loader resumes at batch
// step x grad_accum, and the views are a pure function of (seed, epoch, index)), the guard's
// counters and the views' bands.
#pragma once
#include <string>
#include <vector>

#include "engine/checkpoint.h"
#include "engine/optim/optimizer.h"
#include "models/pretrain/config.h"
#include "models/pretrain/pretrain_data.h"
#include "models/ssl_method.h"

namespace rsd::pretrain {

struct RunCounters {
  int64_t step = 0;            // optimizer steps done
  int bad_in_a_row = 0;
  int64_t skipped_total = 0;
};

CheckpointContent make_run_checkpoint(const models::SslMethod& method, const Optimizer& optimizer,
                                      const RunCounters& counters, const PretrainConfig& config,
                                      const PretrainData& data);

// --resume: refuses a checkpoint that this run's config does not continue: another method,
// architecture, width, stem, head sizes, view channels, optimizer or temperature mode. The error
// names every difference and what to do. Other keys (lr, steps, logging, data) may change.
void check_resume_config(const LoadedCheckpoint& ckpt, const PretrainConfig& config, const PretrainData& data);

// Restores every tensor of this method and optimizer from the checkpoint, which must hold exactly
// those: a tensor missing, one of another shape or one the run does not have is an rsd::Error
// listing them (a checkpoint of another model or method), before anything is changed. Returns
// the counters (from the sidecar, every key checked).
RunCounters restore_run_checkpoint(const LoadedCheckpoint& ckpt, models::SslMethod& method, Optimizer& optimizer);

// What --init did: tensors loaded; the model's tensors the file lacks (left as initialized); the
// file's tensors that match none of the model's; tensors whose shapes differ.
struct InitReport {
  int64_t loaded = 0;
  std::vector<std::string> missing, unexpected, mismatched;
  bool architecture_matches() const { return mismatched.empty() && unexpected.empty() && !partial_module; }
  bool partial_module = false;  // a module (an encoder, a head) was loaded in part
  std::string summary() const;  // "loaded 62 tensors; 8 not in the file (projector.0.weight, ...)"
};

// --init: parameters and buffers from a safetensors file, by exact name, or by the name under an
// encoder prefix ("conv1.weight" fills "online.encoder.conv1.weight": weights exported from a
// checkpoint or written by torchvision users). A module the file does not hold at all (BYOL's
// predictor in an exported encoder) keeps its initialization. Anything else is an architecture
// mismatch, refused with the report unless `partial`: a tensor of another shape, a tensor the
// model lacks (torchvision's classifier fc.* excepted), a module present in part (a ResNet-34
// file into a ResNet-18). With `partial`, the tensors whose names and shapes match are loaded.
// No tensor loaded is always an error naming the file.
InitReport load_initial_weights(const std::string& path, models::SslMethod& method, bool partial = false);

}  // namespace rsd::pretrain
