// The fault suite's tools: run the `rsd` command line as a user would (a child process, its exit
// status, stdout and stderr), kill it at a chosen moment, run it on a small full disk, and check
// what it left behind. Every case asserts the same contract: bad input or a fault ends with a
// clear error that names the file and the problem and a non-zero exit (1 or 2, never a signal or
// std::terminate's 134), and no file half-written.
#pragma once
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace rsd::test {

struct CommandResult {
  int exit_code = -1;  // the exit status; -1 when a signal ended the process
  int signal = 0;      // the signal that ended it, or 0
  std::string out, err;
  bool timed_out = false;
  // Ended by itself with a status (not a signal, not the timeout).
  bool exited() const { return signal == 0 && !timed_out; }
  std::string describe() const;  // "exit 1" / "killed by signal 6" + the tail of stderr
};

struct CommandOptions {
  std::string cwd;                               // "" = the test's working directory
  std::vector<std::string> env;                  // extra "NAME=value" entries
  std::chrono::seconds timeout{300};
  // Called every 20 ms while the child runs, with its pid; returning true stops polling.
  std::function<bool(int pid)> watch;
};

// Runs argv[0] with the arguments (no shell), capturing stdout and stderr.
CommandResult run_command(const std::vector<std::string>& argv, const CommandOptions& options = {});

// The `rsd` executable this test binary was built with.
std::string rsd_binary();

// rsd with the given arguments (run from the source tree's root, as the README does).
CommandResult run_rsd(const std::vector<std::string>& args, const CommandOptions& options = {});

// A command's ending as a user sees it: it failed cleanly (status 1 or 2, no signal) and its
// stderr contains every one of `needles`. Returns "" when so, else what is wrong.
std::string clean_failure(const CommandResult& r, const std::vector<std::string>& needles);

// Runs `args` of rsd with `dir` a tmpfs of `bytes` (a private mount namespace through
// `unshare -rm`, so nothing stays mounted). Returns nullopt-like skipped=true with the reason
// when this machine cannot make one (no user namespaces and not root).
struct SmallDiskRun {
  bool skipped = false;
  std::string reason;
  CommandResult result;
};
SmallDiskRun run_rsd_on_small_disk(const std::filesystem::path& dir, int64_t bytes, const std::vector<std::string>& args);

// Runs `args` of rsd with `dir` a read-only bind mount of itself (same namespace as above);
// skipped, with the reason, where none can be made.
SmallDiskRun run_rsd_read_only(const std::filesystem::path& dir, const std::vector<std::string>& args);

// Files under `dir` (recursive) whose names contain ".tmp": what an interrupted write leaves.
std::vector<std::string> temporary_files(const std::filesystem::path& dir);

// A TOML config of a tiny pretraining run (ResNet-18 of width 8, 16 px views, batch 4) of `method`
// on the shipped TerraMesh samples, writing to `out_dir`, a checkpoint and a metrics row every step;
// `extra` is appended (a section not above: change the keys above with `--set train.lr=1e30`).
// Written to `path`, which is returned.
std::string write_tiny_config(const std::filesystem::path& path, const std::string& method,
                              const std::filesystem::path& out_dir, int64_t steps, const std::string& extra = "");

// Flips one byte of `path` at `offset` (xor 0xFF).
void flip_byte(const std::filesystem::path& path, uint64_t offset);

// Keeps the first `bytes` bytes of `path`.
void truncate_file(const std::filesystem::path& path, uint64_t bytes);

}  // namespace rsd::test
