// rsd_fuzz_replay: runs saved fuzz inputs through the targets of fuzz/ without libFuzzer (the normal
// build, any compiler). ctest's fuzz_replay runs every file of fuzz/corpus/<target>/ this way.
//
//   rsd_fuzz_replay --corpus fuzz/corpus [TARGET...]   every target (or the named ones) on its folder
//   rsd_fuzz_replay --target npy FILE_OR_FOLDER...     one target on given inputs (a crash file)
//   rsd_fuzz_replay --list                             the target names
//
// A finding aborts with its description (fuzz/fuzz_target.h); a target without saved inputs is an
// error, so a corpus folder cannot silently go missing.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/fuzz_target.h"

namespace {

namespace fs = std::filesystem;
using rsd::fuzz::RegisteredTarget;

std::vector<fs::path> inputs_in(const fs::path& path) {
  std::vector<fs::path> files;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      if (entry.is_regular_file(ec)) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
  } else if (fs::is_regular_file(path, ec)) {
    files.push_back(path);
  }
  return files;
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

const RegisteredTarget* find_target(const std::string& name) {
  for (const RegisteredTarget& t : rsd::fuzz::registered_targets()) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

// Runs `target` on every file of `paths`; returns the number of inputs.
size_t replay(const RegisteredTarget& target, const std::vector<fs::path>& paths) {
  size_t count = 0;
  const auto start = std::chrono::steady_clock::now();
  for (const fs::path& p : paths) {
    for (const fs::path& file : inputs_in(p)) {
      const std::string bytes = read_bytes(file);
      if (std::getenv("RSD_FUZZ_VERBOSE") != nullptr) std::fprintf(stderr, "%s: %s\n", target.name.c_str(), file.c_str());
      target.body(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
      ++count;
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%-20s %6zu inputs  %7.2f s\n", target.name.c_str(), count, seconds);
  std::fflush(stdout);
  return count;
}

int usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s --corpus DIR [TARGET...]   replay DIR/<target>/* through each target\n"
               "       %s --target NAME PATH...      replay files (or folders of files) through one target\n"
               "       %s --list                     list the targets\n"
               "Set RSD_FUZZ_VERBOSE=1 to print each file before it runs.\n",
               argv0, argv0, argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<RegisteredTarget> targets = rsd::fuzz::registered_targets();
  std::sort(targets.begin(), targets.end(),
            [](const RegisteredTarget& a, const RegisteredTarget& b) { return a.name < b.name; });
  if (argc >= 2 && std::strcmp(argv[1], "--list") == 0) {
    for (const RegisteredTarget& t : targets) std::printf("%s\n", t.name.c_str());
    return 0;
  }
  if (argc >= 3 && std::strcmp(argv[1], "--target") == 0) {
    const RegisteredTarget* t = find_target(argv[2]);
    if (t == nullptr) {
      std::fprintf(stderr, "rsd_fuzz_replay: no target named '%s' (--list names them)\n", argv[2]);
      return 2;
    }
    std::vector<fs::path> paths(argv + 3, argv + argc);
    if (replay(*t, paths) == 0) {
      std::fprintf(stderr, "rsd_fuzz_replay: no input files given\n");
      return 1;
    }
    return 0;
  }
  if (argc >= 3 && std::strcmp(argv[1], "--corpus") == 0) {
    const fs::path root = argv[2];
    std::vector<const RegisteredTarget*> chosen;
    for (int i = 3; i < argc; ++i) {
      const RegisteredTarget* t = find_target(argv[i]);
      if (t == nullptr) {
        std::fprintf(stderr, "rsd_fuzz_replay: no target named '%s' (--list names them)\n", argv[i]);
        return 2;
      }
      chosen.push_back(t);
    }
    if (chosen.empty()) {
      for (const RegisteredTarget& t : targets) chosen.push_back(&t);
    }
    size_t total = 0;
    for (const RegisteredTarget* t : chosen) {
      const size_t n = replay(*t, {root / t->name});
      if (n == 0) {
        std::fprintf(stderr, "rsd_fuzz_replay: no saved inputs for target %s in %s\n", t->name.c_str(),
                     (root / t->name).c_str());
        return 1;
      }
      total += n;
    }
    std::printf("fuzz_replay: %zu targets, %zu inputs, no finding\n", chosen.size(), total);
    return 0;
  }
  return usage(argv[0]);
}
