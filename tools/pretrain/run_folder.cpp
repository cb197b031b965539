#include "tools/pretrain/run_folder.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "engine/checkpoint.h"
#include "engine/error.h"

namespace rsd::tools {

namespace fs = std::filesystem;

namespace {

// The files a run writes at the top of its folder (checkpoints/ is counted apart).
constexpr const char* kRunFiles[] = {"config.toml", "metrics.jsonl", "loss.png"};

std::string human_bytes(uint64_t bytes) {
  const double mib = static_cast<double>(bytes) / (1024.0 * 1024.0);
  char text[64];
  if (mib >= 1024.0) {
    std::snprintf(text, sizeof text, "%.1f GiB", mib / 1024.0);
  } else {
    std::snprintf(text, sizeof text, "%.1f MiB", mib);
  }
  return text;
}

// `inner` is `outer` or lies inside it (both made absolute and normalized; symlinks resolved
// where the paths exist).
bool is_within(const fs::path& inner, const fs::path& outer) {
  std::error_code ec;
  const fs::path a = fs::weakly_canonical(fs::absolute(inner, ec), ec);
  const fs::path b = fs::weakly_canonical(fs::absolute(outer, ec), ec);
  auto ai = a.begin();
  for (auto bi = b.begin(); bi != b.end(); ++bi, ++ai) {
    if (bi->empty()) continue;  // a trailing separator
    if (ai == a.end() || *ai != *bi) return false;
  }
  return true;
}

// Makes `dir` (and its parents) and proves it writable by creating and removing a file in it.
void make_writable_folder(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    fs::path p = fs::absolute(dir, ec);
    for (fs::path up = p.parent_path(); !up.empty() && up != up.parent_path(); up = up.parent_path()) {
      std::error_code type_ec;
      if (fs::exists(up, type_ec) && !fs::is_directory(up, type_ec))
        fail("cannot create the run folder ", dir, ": ", up.string(), " is a file, not a folder; choose another --out");
    }
    fail("cannot create the run folder ", dir, ": ", ec.message(), "; choose another --out");
  }
  RSD_CHECK(fs::is_directory(dir, ec), "the run folder ", dir, " is a file, not a folder; choose another --out");
  const fs::path probe = fs::path(dir) / (".rsd-write-test.tmp." + std::to_string(::getpid()));
  std::FILE* f = std::fopen(probe.c_str(), "wb");
  RSD_CHECK(f != nullptr, "cannot write in the run folder ", dir, ": ", std::strerror(errno),
            "; choose another --out or fix its permissions");
  std::fclose(f);
  fs::remove(probe, ec);
}

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
  std::error_code ec;
  RSD_CHECK(data_path.empty() || !fs::exists(data_path, ec) || !is_within(out_dir, data_path), "the run folder ",
            out_dir, " is inside the data folder ", data_path,
            ": a run must not write into its input; choose an --out outside it");
  const RunFolderContents contents = inspect_run_folder(out_dir);
  if (start == RunStart::overwrite && contents.holds_run()) {
    RSD_CHECK(data_path.empty() || !is_within(data_path, fs::path(out_dir) / "checkpoints"),
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
    RSD_CHECK(is_within(resume_from, own), "--resume ", resume_from, " is not a checkpoint of the run in ", out_dir,
              " (", contents.describe(), "): resuming it here would mix two runs' metrics and checkpoints; resume into "
              "its own run folder, or into an empty --out");
  }
  make_writable_folder(out_dir);
}

void check_free_space(const std::string& out_dir, uint64_t bytes, const std::string& what) {
  std::error_code ec;
  const fs::space_info space = fs::space(out_dir, ec);
  RSD_CHECK(!ec, "cannot read the free space of ", out_dir, ": ", ec.message());
  RSD_CHECK(space.available >= bytes, out_dir, ": ", human_bytes(space.available), " free, but ", what, " needs ",
            human_bytes(bytes), "; free some space or choose another --out");
}

}  // namespace rsd::tools
