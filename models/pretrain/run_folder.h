// The output folder of `rsd pretrain` (config.log.out_dir) and the rules for starting in it, checked
// before any compute:
//   a fresh run     needs a folder that holds no run (config.toml, metrics.jsonl, loss.png or
//                   checkpoint files); one that does is refused, naming what it holds, because
//                   writing into it would mix two runs' metrics and checkpoints;
//   --resume        continues the run the folder holds (or, from a checkpoint elsewhere, starts in
//                   a folder that holds no run);
//   --overwrite     removes the run the folder holds, whole (those files only; other files stay),
//                   then starts fresh.
// The folder must be creatable and writable (not under a regular file) and must not be the data's
// folder or inside it (engine/output_preflight.h); the trainer checks the room for a checkpoint.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rsd::pretrain {

enum class RunStart { fresh, resume, overwrite };

// What a run folder holds of a run: the run's own files, present ones only.
struct RunFolderContents {
  std::vector<std::string> files;   // config.toml, metrics.jsonl, loss.png, checkpoints/... (paths)
  int64_t checkpoints = 0;          // complete checkpoints
  int64_t latest_step = -1;         // the newest complete checkpoint's step
  bool holds_run() const { return !files.empty(); }
  std::string describe() const;     // "config.toml, metrics.jsonl and 2 checkpoints up to step 60"
};

RunFolderContents inspect_run_folder(const std::string& out_dir);

// Applies the rules above for `start` (data_path: the config's data.path; resume_from: the
// checkpoint file or folder given to --resume). Makes the folder; with overwrite, removes the old
// run. An rsd::Error says what is wrong and what to do.
void prepare_run_folder(const std::string& out_dir, RunStart start, const std::string& data_path,
                        const std::string& resume_from);

}  // namespace rsd::pretrain
