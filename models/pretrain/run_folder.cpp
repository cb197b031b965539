#include "models/pretrain/run_folder.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "engine/checkpoint.h"
#include "engine/error.h"
#include "engine/output_preflight.h"

namespace rsd::pretrain {

namespace fs = std::filesystem;

namespace {

// The files a run writes at the top of its folder (checkpoints/ is counted apart).
constexpr const char* kRunFiles[] = {"config.toml", "metrics.jsonl", "loss.png"};

void remove_run(const std::string& out_dir, const RunFolderContents& contents) {
  std::error_code ec;
  for (const char* name : kRunFiles) {
    fs::remove(fs::path(out_dir) / name, ec);
    RSD_CHECK(!ec, "--overwrite: cannot remove ", (fs::path(out_dir) / name).string(), ": ", ec.message());
  }
  fs::remove_all(fs::path(out_dir) / "checkpoints", ec);
  RSD_CHECK(!ec, "--overwrite: cannot remove ", (fs::path(out_dir) / "checkpoints").string(), ": ", ec.message());
  std::printf("--overwrite: removed the run in %s (%s)\n", out_dir.c_str(), contents.describe().c_str());
}

}  // namespace

std::string RunFolderContents::describe() const {
  std::string out;
  int64_t top_files = 0;
  for (const std::string& f : files) {
    const std::string name = fs::path(f).filename().string();
    for (const char* run_file : kRunFiles)
      if (name == run_file) {
        out += (out.empty() ? "" : ", ") + name;
        ++top_files;
      }
  }
  if (checkpoints > 0) {
    out += str_cat(out.empty() ? "" : " and ", checkpoints, checkpoints == 1 ? " checkpoint" : " checkpoints",
                   " up to step ", latest_step);
  } else if (static_cast<int64_t>(files.size()) > top_files) {
    out += str_cat(out.empty() ? "" : " and ", "files in checkpoints/");
  }
  return out;
}

RunFolderContents inspect_run_folder(const std::string& out_dir) {
  RunFolderContents c;
  std::error_code ec;
  if (!fs::is_directory(out_dir, ec)) return c;
  for (const char* name : kRunFiles) {
    const fs::path p = fs::path(out_dir) / name;
    if (fs::exists(p, ec)) c.files.push_back(p.string());
  }
  const fs::path checkpoints = fs::path(out_dir) / "checkpoints";
  if (fs::is_directory(checkpoints, ec)) {
    for (fs::directory_iterator it(checkpoints, ec), end; !ec && it != end; it.increment(ec)) c.files.push_back(it->path().string());
    const std::vector<std::string> complete = CheckpointDir(checkpoints.string(), 1).list();
    c.checkpoints = static_cast<int64_t>(complete.size());
    // The step from the name ("step-00000060.safetensors"): a damaged file still counts as a run.
    if (!complete.empty()) c.latest_step = std::atoll(fs::path(complete.back()).stem().string().substr(5).c_str());
  }
  return c;
}

void prepare_run_folder(const std::string& out_dir, RunStart start, const std::string& data_path,
                        const std::string& resume_from) {
  RSD_CHECK(!out_dir.empty(), "log.out_dir is empty: give the run folder with --out or log.out_dir");
  std::vector<ProtectedInput> inputs;
  if (!data_path.empty()) inputs.push_back({data_path, "the data folder", true});
  check_output_dir(out_dir, "the run folder", {"config.toml", "metrics.jsonl", "loss.png"}, 0, inputs);
  const RunFolderContents contents = inspect_run_folder(out_dir);
  if (start == RunStart::overwrite && contents.holds_run()) {
    RSD_CHECK(data_path.empty() || !path_is_within(data_path, (fs::path(out_dir) / "checkpoints").string()),
              "--overwrite would remove the data folder ", data_path, " (it is inside ", out_dir, "/checkpoints)");
    remove_run(out_dir, contents);
  }
  if (start == RunStart::fresh) {
    RSD_CHECK(!contents.holds_run(), out_dir, " already holds a run (", contents.describe(),
              "): continue it with --resume, start it over with --overwrite (which deletes it), or choose "
              "another --out");
  }
  if (start == RunStart::resume && contents.holds_run()) {
    // A checkpoint of this folder's run continues it; one from elsewhere would mix two runs.
    const fs::path own = fs::path(out_dir) / "checkpoints";
    RSD_CHECK(path_is_within(resume_from, own.string()), "--resume ", resume_from, " is not a checkpoint of the run in ", out_dir,
              " (", contents.describe(), "): resuming it here would mix two runs' metrics and checkpoints; resume into "
              "its own run folder, or into an empty --out");
  }
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  RSD_CHECK(!ec, "cannot make the run folder ", out_dir, ": ", ec.message(), "; choose another --out");
}

}  // namespace rsd::pretrain
