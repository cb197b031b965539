#include "tests/faults/fault_harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <thread>

#ifndef RSD_BINARY_PATH
#error "RSD_BINARY_PATH must name the rsd executable (tests/CMakeLists.txt)"
#endif
#ifndef RSD_SOURCE_DIR
#error "RSD_SOURCE_DIR must name the source tree (tests/CMakeLists.txt)"
#endif

namespace rsd::test {

namespace fs = std::filesystem;

namespace {

// Reads what is available on fd into out; false at end of file.
bool drain(int fd, std::string& out) {
  char buffer[4096];
  const ssize_t n = ::read(fd, buffer, sizeof buffer);
  if (n > 0) {
    out.append(buffer, static_cast<size_t>(n));
    return true;
  }
  return n < 0 && errno == EINTR;
}

[[noreturn]] void exec_child(const std::vector<std::string>& argv, const CommandOptions& options, int out_fd,
                             int err_fd) {
  ::dup2(out_fd, STDOUT_FILENO);
  ::dup2(err_fd, STDERR_FILENO);
  if (!options.cwd.empty() && ::chdir(options.cwd.c_str()) != 0) _exit(126);
  for (const std::string& kv : options.env) {
    const size_t eq = kv.find('=');
    if (eq != std::string::npos) ::setenv(kv.substr(0, eq).c_str(), kv.substr(eq + 1).c_str(), 1);
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execvp(args[0], args.data());
  std::fprintf(stderr, "cannot run %s: %s\n", args[0], std::strerror(errno));
  _exit(127);
}

}  // namespace

std::string CommandResult::describe() const {
  std::string s = timed_out ? "timed out" : signal != 0 ? "killed by signal " + std::to_string(signal)
                                                        : "exit " + std::to_string(exit_code);
  const std::string tail = err.size() > 2000 ? err.substr(err.size() - 2000) : err;
  return s + "; stderr: " + tail;
}

CommandResult run_command(const std::vector<std::string>& argv, const CommandOptions& options) {
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) exec_child(argv, options, out_pipe[1], err_pipe[1]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  CommandResult r;
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  bool out_open = true, err_open = true, watching = static_cast<bool>(options.watch);
  while (out_open || err_open) {
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    ::poll(fds, 2, 20);
    if (out_open && (fds[0].revents & (POLLIN | POLLHUP))) out_open = drain(out_pipe[0], r.out);
    if (err_open && (fds[1].revents & (POLLIN | POLLHUP))) err_open = drain(err_pipe[0], r.err);
    if (watching && options.watch(pid)) watching = false;
    if (std::chrono::steady_clock::now() > deadline) {
      r.timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
  }
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  return r;
}

std::string rsd_binary() { return RSD_BINARY_PATH; }

CommandResult run_rsd(const std::vector<std::string>& args, const CommandOptions& options) {
  std::vector<std::string> argv{rsd_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandOptions o = options;
  if (o.cwd.empty()) o.cwd = RSD_SOURCE_DIR;
  return run_command(argv, o);
}

std::string clean_failure(const CommandResult& r, const std::vector<std::string>& needles) {
  if (!r.exited()) return "did not end by itself: " + r.describe();
  if (r.exit_code != 1 && r.exit_code != 2) return "expected exit 1 or 2: " + r.describe();
  // Under the sanitizers (tools/sanitize.sh builds rsd instrumented too) a report exits 1 as well.
  for (const char* report : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"}) {
    if (r.err.find(report) != std::string::npos) return std::string("a sanitizer report: ") + r.describe();
  }
  for (const std::string& n : needles) {
    if (r.err.find(n) == std::string::npos) return "stderr lacks \"" + n + "\": " + r.describe();
  }
  return "";
}

namespace {

// rsd run by `sh -c setup` in a private mount namespace (as root directly, else as a mapped root
// in a user namespace), `dir` given to the script as $0. A setup that fails exits 99 saying
// "mount:", and the run is reported skipped with the reason.
SmallDiskRun run_rsd_in_mount_namespace(const fs::path& dir, const std::string& setup, const std::string& what,
                                        const std::vector<std::string>& args) {
  SmallDiskRun run;
  fs::create_directories(dir);
  const CommandResult probe = run_command({"unshare", "-rm", "true"}, {});
  const bool userns = probe.exited() && probe.exit_code == 0;
  if (!userns && ::geteuid() != 0) {
    run.skipped = true;
    run.reason = "no mount namespace can be made here (not root, and unshare -rm failed: " + probe.err + ")";
    return run;
  }
  const std::string script = "{ " + setup + "; } || { echo 'mount: failed' >&2; exit 99; }; exec \"$@\"";
  std::vector<std::string> argv{"unshare", userns ? "-rm" : "-m", "sh", "-c", script, dir.string(), rsd_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandOptions o;
  o.cwd = RSD_SOURCE_DIR;
  run.result = run_command(argv, o);
  if (run.result.exit_code == 99 && run.result.err.find("mount:") != std::string::npos) {
    run.skipped = true;
    run.reason = what + " failed: " + run.result.err;
  }
  return run;
}

}  // namespace

SmallDiskRun run_rsd_on_small_disk(const fs::path& dir, int64_t bytes, const std::vector<std::string>& args) {
  return run_rsd_in_mount_namespace(dir, "mount -t tmpfs -o size=" + std::to_string(bytes) + " rsd-small-disk \"$0\"",
                                    "mounting a tmpfs", args);
}

SmallDiskRun run_rsd_read_only(const fs::path& dir, const std::vector<std::string>& args) {
  return run_rsd_in_mount_namespace(dir, "mount --bind \"$0\" \"$0\" && mount -o remount,bind,ro \"$0\"",
                                    "a read-only bind mount", args);
}

std::vector<std::string> temporary_files(const fs::path& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return found;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().string().find(".tmp") != std::string::npos) found.push_back(it->path().string());
  }
  return found;
}

std::string write_tiny_config(const fs::path& path, const std::string& method, const fs::path& out_dir, int64_t steps,
                              const std::string& extra) {
  const fs::path samples = fs::path(RSD_SOURCE_DIR) / "data" / "samples" / "terramind-s1s2";
  std::ofstream f(path);
  f << "method = \"" << method << "\"\nseed = 3\ndevice = \"cpu\"\n"
    << "[data]\npath = \"" << samples.string() << "\"\npatch_size = 16\nrepeat = 4\nworkers = 1\n"
    << "[model]\narch = \"resnet18\"\nstem = \"small-patch\"\nwidth = 8\nprojector_hidden = 32\nprojector_out = 16\n"
    << (method == "byol" ? "predictor_hidden = 32\n" : "")
    << "[train]\nbatch_size = 4\nsteps = " << steps << "\noptimizer = \"lars\"\nlr = 0.3\nwarmup_fraction = 0.2\n"
    << "[log]\nout_dir = \"" << out_dir.string() << "\"\nevery = 1\nprogress = false\nplot = false\n"
    << "[checkpoint]\nevery = 1\nkeep_last = 3\n"
    << extra;
  if (!f) throw std::runtime_error("cannot write " + path.string());
  return path.string();
}

void flip_byte(const fs::path& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path.string());
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0xFF);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

void truncate_file(const fs::path& path, uint64_t bytes) { fs::resize_file(path, bytes); }

}  // namespace rsd::test
