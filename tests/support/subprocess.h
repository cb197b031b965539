// Shell commands and the tests' Python clients (NumPy, GDAL, torchvision, safetensors read what
// rsd wrote). popen: the output is read whole, stdout and stderr together.
#pragma once
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "engine/error.h"

namespace rsd::test {

// Debian's interpreter, where tools/setup.sh installs numpy, gdal, torchvision and safetensors.
inline constexpr const char* kPython = "/usr/bin/python3";

struct ShellResult {
  int exit_code = -1;  // -1: did not start or did not exit normally
  std::string output;  // stdout and stderr
};

inline ShellResult run_shell(const std::string& command) {
  ShellResult r;
  std::FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return r;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) r.output.append(buf, n);
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// Runs tests/python/<script> with `args` and returns its output; a failure (no python, a missing
// module, an error) fails the test with the client's output and what to do.
inline std::string run_python_client(const std::string& script, const std::string& args) {
  REQUIRE_MESSAGE(std::filesystem::exists(kPython), kPython, " is missing: run tools/setup.sh");
  const std::filesystem::path path = std::filesystem::path(__FILE__).parent_path().parent_path() / "python" / script;
  const std::string command = str_cat(kPython, " '", path.string(), "' ", args);
  const ShellResult r = run_shell(command);
  REQUIRE_MESSAGE(r.exit_code == 0, "the Python client failed (", command, "); if numpy, gdal, torch, torchvision ",
                  "or safetensors is missing, run tools/setup.sh. Output:\n", r.output);
  return r.output;
}

}  // namespace rsd::test
