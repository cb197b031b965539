// Training checkpoints: a directory of numbered pairs
//   <dir>/step-00001200.safetensors   weights, buffers, optimizer state; "__metadata__" with the step
//   <dir>/step-00001200.json          the sidecar: {"step": 1200, ...config, statistics, RNG state}
// each written atomically, the .safetensors first, so a checkpoint exists once its .json does.
// The naming of tensors and metadata keys is in docs/checkpoint-format.md.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/safetensors.h"

namespace rsd {

// The metadata key "format" holds this value in every checkpoint rsd writes.
inline constexpr const char* kCheckpointFormat = "rsd-checkpoint-1";

struct CheckpointContent {
  int64_t step = 0;
  std::vector<std::pair<std::string, Tensor>> tensors;  // weights, buffers, optimizer state
  std::map<std::string, std::string> metadata;          // into __metadata__; "step" and "format" added
  std::string sidecar_json;  // a JSON object (config, statistics, RNG state); "step" added if absent
};

class CheckpointDir {
 public:
  // Creates `dir` if needed; keep_last >= 1.
  CheckpointDir(std::string dir, int keep_last);

  // Writes <dir>/step-<step, 8 digits>.safetensors, then the .json beside it (both atomic; a tensor
  // holding Inf or NaN is an rsd::Error naming it, and nothing of this step is written), then
  // deletes the oldest complete checkpoints beyond keep_last, the incomplete ones older than this
  // step and temporary files left by processes that no longer run. Returns the .safetensors path.
  std::string save(const CheckpointContent& c);
  // The newest checkpoint whose .safetensors and .json both exist; nullopt when none.
  std::optional<std::string> latest() const;
  // The .safetensors paths of the complete checkpoints, oldest first.
  std::vector<std::string> list() const;

  const std::string& dir() const { return dir_; }

 private:
  void prune(int64_t saved_step) const;
  std::string newest_note() const;  // "the newest checkpoint is still <path>", for errors

  std::string dir_;
  int keep_last_;
};

struct LoadedCheckpoint {
  std::string path;  // the .safetensors file
  int64_t step;
  SafetensorsFile file;
  std::string sidecar_json;
};

// path: a .safetensors file (its .json sidecar must exist beside it) or a checkpoint directory (its
// latest). Errors name the path: no checkpoint in a directory, a missing sidecar, a step missing
// from the metadata or the sidecar, or steps that disagree between metadata, sidecar and file name.
LoadedCheckpoint load_checkpoint(const std::string& path);

// "<dir>/step-00001200.json" for "<dir>/step-00001200.safetensors".
std::string checkpoint_sidecar_path(const std::string& safetensors_path);

}  // namespace rsd
