// Fuzz targets of rsd's parsers (docs/fuzzing.md). Each fuzz/fuzz_<name>.cpp defines one target:
//
//   RSD_FUZZ_TARGET(npy) {            // data, size: the input
//     const std::string path = rsd::fuzz::input_file("npy", "x.npy", data, size);
//     rsd::fuzz::expect_clean("npy", {path}, [&] { read_npy(path); });
//   }
//
// Built two ways from the same source:
//   - with RSD_FUZZ_LIBFUZZER (the clang build of tools/fuzz.sh): the body is
//     LLVMFuzzerTestOneInput, linked with -fsanitize=fuzzer,address,undefined, one binary per target;
//   - otherwise (the normal build): the body registers itself under its name in rsd_fuzz_replay,
//     which runs the saved corpora (fuzz/corpus/<name>/) through every target (ctest fuzz_replay).
//
// The rule every target checks: bad input ends in an rsd::Error whose message names the file (or
// origin) and the problem. Any other exception escaping rsd's API, or an rsd::Error that names
// none of the expected names, is a finding: it is printed and the process aborts, so libFuzzer
// saves the input and the replay fails. Crashes, leaks, hangs and huge allocations are caught by
// the sanitizers and libFuzzer's limits.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace rsd::fuzz {

using TargetBody = void (*)(const uint8_t* data, size_t size);

// The replay build's table of targets, by name.
bool register_target(const char* name, TargetBody body);
struct RegisteredTarget {
  std::string name;
  TargetBody body;
};
const std::vector<RegisteredTarget>& registered_targets();

// A folder private to this process and target ($RSD_FUZZ_TMP, else /dev/shm, else the system's
// temporary folder), created on first use and removed when the process exits normally.
const std::string& scratch_dir(const char* target);

// Writes bytes to a file (an error is fatal: the harness, not the input, is broken).
void write_file(const std::string& path, const void* data, size_t size);
// scratch_dir(target) / name, holding the input.
std::string input_file(const char* target, const char* name, const uint8_t* data, size_t size);

// Runs `body`. Returns true when it completed, false when it threw an rsd::Error whose message
// contains one of `names` (any message when `names` is empty). Anything else is a finding.
bool expect_clean(const char* target, const std::vector<std::string>& names, const std::function<void()>& body);

// Prints "==rsd-fuzz== FINDING in <target>: <what>" and aborts.
[[noreturn]] void finding(const char* target, const std::string& what);

// Reads every byte of [data, data + size) (so that ASan checks the whole range is allocated).
void touch(const void* data, size_t size);

// Checks an invariant of a successful parse; a finding when false.
inline void require(bool ok, const char* target, const std::string& what) {
  if (!ok) finding(target, what);
}

}  // namespace rsd::fuzz

#if defined(RSD_FUZZ_LIBFUZZER)
#define RSD_FUZZ_TARGET(name)                                                       \
  static void rsd_fuzz_body_##name(const uint8_t* data, size_t size);               \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {         \
    rsd_fuzz_body_##name(data, size);                                               \
    return 0;                                                                       \
  }                                                                                 \
  static void rsd_fuzz_body_##name(const uint8_t* data, size_t size)
#else
#define RSD_FUZZ_TARGET(name)                                                       \
  static void rsd_fuzz_body_##name(const uint8_t* data, size_t size);               \
  [[maybe_unused]] static const bool rsd_fuzz_registered_##name =                   \
      ::rsd::fuzz::register_target(#name, &rsd_fuzz_body_##name);                   \
  static void rsd_fuzz_body_##name(const uint8_t* data, size_t size)
#endif
