#include <cxxabi.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <map>
#include <memory>
#include <typeinfo>

#include "engine/error.h"
#include "fuzz/fuzz_target.h"

namespace rsd::fuzz {
namespace {

namespace fs = std::filesystem;

volatile uint8_t g_touch_sink = 0;

std::vector<RegisteredTarget>& targets() {
  static std::vector<RegisteredTarget> all;
  return all;
}

std::map<std::string, std::string>& scratch_dirs() {
  static std::map<std::string, std::string> dirs;
  return dirs;
}

void remove_scratch_dirs() {
  for (const auto& [target, dir] : scratch_dirs()) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
}

std::string demangled(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(mangled);
}

std::string shortened(const std::string& s) { return s.size() > 400 ? s.substr(0, 400) + " ..." : s; }

}  // namespace

bool register_target(const char* name, TargetBody body) {
  targets().push_back({name, body});
  return true;
}

const std::vector<RegisteredTarget>& registered_targets() { return targets(); }

const std::string& scratch_dir(const char* target) {
  auto& dirs = scratch_dirs();
  const auto it = dirs.find(target);
  if (it != dirs.end()) return it->second;
  fs::path base;
  if (const char* env = std::getenv("RSD_FUZZ_TMP"); env != nullptr && *env != '\0') {
    base = env;
  } else {
    std::error_code ec;
    base = fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
  }
  const fs::path dir = base / ("rsd-fuzz-" + std::string(target) + "-" + std::to_string(::getpid()));
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) {
    std::fprintf(stderr, "rsd-fuzz: cannot create %s: %s\n", dir.c_str(), ec.message().c_str());
    std::abort();
  }
  if (dirs.empty()) std::atexit(remove_scratch_dirs);
  return dirs.emplace(target, dir.string()).first->second;
}

void write_file(const std::string& path, const void* data, size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  const bool ok = f != nullptr && (size == 0 || std::fwrite(data, 1, size, f) == size);
  if (f != nullptr && std::fclose(f) != 0) {
    std::fprintf(stderr, "rsd-fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
  if (!ok) {
    std::fprintf(stderr, "rsd-fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
}

std::string input_file(const char* target, const char* name, const uint8_t* data, size_t size) {
  const std::string path = (fs::path(scratch_dir(target)) / name).string();
  write_file(path, data, size);
  return path;
}

void touch(const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint8_t sum = 0;
  for (size_t i = 0; i < size; ++i) sum = static_cast<uint8_t>(sum + p[i]);
  g_touch_sink = sum;
}

void finding(const char* target, const std::string& what) {
  std::fprintf(stderr, "\n==rsd-fuzz== FINDING in %s: %s\n", target, what.c_str());
  std::fflush(stderr);
  std::abort();
}

bool expect_clean(const char* target, const std::vector<std::string>& names, const std::function<void()>& body) {
  try {
    body();
    return true;
  } catch (const Error& e) {
    const std::string message = e.what();
    if (message.empty()) finding(target, "an rsd::Error with an empty message");
    if (names.empty()) return false;
    for (const std::string& name : names) {
      if (message.find(name) != std::string::npos) return false;
    }
    std::string expected;
    for (const std::string& name : names) expected += (expected.empty() ? "" : " or ") + name;
    finding(target, "an rsd::Error that does not name the file (" + expected + "): " + shortened(message));
  } catch (const std::exception& e) {
    finding(target, "an exception other than rsd::Error escaped: " + demangled(typeid(e).name()) + ": " +
                        shortened(e.what()));
  } catch (...) {
    finding(target, "an exception of unknown type escaped");
  }
}

}  // namespace rsd::fuzz
