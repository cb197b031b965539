#include "engine/checkpoint.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/atomic_file.h"
#include "engine/error.h"
#include "engine/json_limits.h"

namespace rsd {
namespace {

namespace fs = std::filesystem;
using ordered_json = nlohmann::ordered_json;

constexpr const char* kPrefix = "step-";
constexpr const char* kWeightsSuffix = ".safetensors";
constexpr const char* kSidecarSuffix = ".json";
constexpr const char* kTempInfix = ".tmp.";
constexpr const char* kChecksumsKey = "tensor_crc32c";

bool parse_int64(const std::string& text, int64_t& out) {
  if (text.empty()) return false;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end;
}

bool has_suffix(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The step of "step-<digits>" (at most 18 digits: no overflow), or nullopt.
std::optional<int64_t> step_of_stem(const std::string& stem) {
  const std::string prefix = kPrefix;
  if (stem.size() <= prefix.size() || stem.size() > prefix.size() + 18 || stem.compare(0, prefix.size(), prefix) != 0) {
    return std::nullopt;
  }
  const std::string digits = stem.substr(prefix.size());
  if (!std::all_of(digits.begin(), digits.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) return std::nullopt;
  int64_t step = 0;
  if (!parse_int64(digits, step)) return std::nullopt;
  return step;
}

std::string stem_of_step(int64_t step) {
  char digits[32];
  std::snprintf(digits, sizeof(digits), "%08lld", static_cast<long long>(step));
  return std::string(kPrefix) + digits;
}

// The step named by a checkpoint file name ("step-00001200.safetensors"), or nullopt.
std::optional<int64_t> step_of_file_name(const std::string& name, const std::string& suffix) {
  if (!has_suffix(name, suffix)) return std::nullopt;
  return step_of_stem(name.substr(0, name.size() - suffix.size()));
}

struct Found {
  std::string stem;
  int64_t step = 0;
  bool weights = false;
  bool sidecar = false;
  bool complete() const { return weights && sidecar; }
};

// The checkpoint files of `dir`, by step (then name). Temporary files ("*.tmp.*") are not listed.
std::vector<Found> scan(const std::string& dir) {
  std::map<std::string, Found> by_stem;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec)) continue;
    const std::string name = it->path().filename().string();
    for (const char* suffix : {kWeightsSuffix, kSidecarSuffix}) {
      const std::optional<int64_t> step = step_of_file_name(name, suffix);
      if (!step) continue;
      Found& f = by_stem[name.substr(0, name.size() - std::string(suffix).size())];
      f.stem = name.substr(0, name.size() - std::string(suffix).size());
      f.step = *step;
      (suffix == kWeightsSuffix ? f.weights : f.sidecar) = true;
    }
  }
  RSD_CHECK(!ec, "cannot list checkpoint directory ", dir, ": ", ec.message());
  std::vector<Found> found;
  for (auto& [stem, f] : by_stem) found.push_back(f);
  std::sort(found.begin(), found.end(),
            [](const Found& a, const Found& b) { return a.step != b.step ? a.step < b.step : a.stem < b.stem; });
  return found;
}

std::vector<std::string> complete_checkpoints(const std::string& dir) {
  std::vector<std::string> paths;
  for (const Found& f : scan(dir)) {
    if (f.complete()) paths.push_back((fs::path(dir) / (f.stem + kWeightsSuffix)).string());
  }
  return paths;
}

void remove_file(const fs::path& p) {
  std::error_code ec;
  fs::remove(p, ec);
  RSD_CHECK(!ec, "cannot remove old checkpoint file ", p.string(), ": ", ec.message());
}

// Removes "step-*.{safetensors,json}.tmp.<pid>" left by a process that no longer runs.
bool remove_dead_temp_files(const std::string& dir) {
  bool removed = false;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const size_t infix = name.rfind(kTempInfix);
    if (infix == std::string::npos) continue;
    const std::string target = name.substr(0, infix);
    if (!step_of_file_name(target, kWeightsSuffix) && !step_of_file_name(target, kSidecarSuffix)) continue;
    int64_t pid = 0;
    if (!parse_int64(name.substr(infix + std::string(kTempInfix).size()), pid) || pid <= 0) continue;
    if (pid == ::getpid() || pid > INT32_MAX) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    std::error_code remove_ec;
    removed = fs::remove(it->path(), remove_ec) || removed;
  }
  return removed;
}

// The sidecar to write: the caller's JSON object with "step" first.
ordered_json sidecar_object(const std::string& json_text, int64_t step) {
  ordered_json given = ordered_json::object();
  if (!json_text.empty()) {
    try {
      given = ordered_json::parse(json_text);
    } catch (const nlohmann::json::exception& e) {
      fail("checkpoint of step ", step, ": the sidecar JSON does not parse (", e.what(), ")");
    }
  }
  RSD_CHECK(given.is_object(), "checkpoint of step ", step, ": the sidecar JSON is a ", given.type_name(),
            ", not an object");
  if (given.contains("step")) {
    RSD_CHECK(given["step"].is_number_integer() && given["step"].get<int64_t>() == step, "checkpoint of step ", step,
              ": the sidecar JSON says \"step\": ", given["step"].dump());
  }
  RSD_CHECK(!given.contains(kChecksumsKey), "checkpoint of step ", step, ": the sidecar JSON may not hold \"",
            kChecksumsKey, "\" (the checkpoint writes it)");
  ordered_json sidecar = {{"step", step}};
  for (auto& [key, value] : given.items()) {
    if (key != "step") sidecar[key] = value;
  }
  return sidecar;
}

// Every tensor of `file` against the CRC32C its sidecar recorded (sidecars written before the
// checksums existed have none: nothing to check).
void verify_checksums(const SafetensorsFile& file, const nlohmann::json& sidecar, const std::string& sidecar_path) {
  if (!sidecar.contains(kChecksumsKey)) return;
  const nlohmann::json& sums = sidecar[kChecksumsKey];
  RSD_CHECK(sums.is_object(), sidecar_path, ": \"", kChecksumsKey, "\" is not an object; the sidecar is damaged, ",
            "use an earlier checkpoint");
  const std::vector<std::string> names = file.names();
  RSD_CHECK(sums.size() == names.size(), file.path(), " holds ", names.size(), " tensors but its sidecar ",
            sidecar_path, " has checksums of ", sums.size(), "; the two files do not belong together or one is damaged: "
            "use an earlier checkpoint");
  for (const std::string& name : names) {
    const auto it = sums.find(name);
    RSD_CHECK(it != sums.end() && it->is_number_unsigned() && it->get<uint64_t>() <= UINT32_MAX, sidecar_path,
              ": no checksum for tensor \"", name, "\"; the sidecar is damaged or belongs to another checkpoint: use an "
              "earlier checkpoint");
    const uint32_t stored = static_cast<uint32_t>(it->get<uint64_t>()), actual = file.crc32c(name);
    RSD_CHECK(actual == stored, file.path(), ": tensor \"", name, "\" does not match the CRC32C its sidecar recorded (",
              actual, " vs ", stored, "): the file is damaged (changed on disk or in a copy); use an earlier ",
              "checkpoint");
  }
}

std::map<std::string, std::string> checkpoint_metadata(const CheckpointContent& c) {
  std::map<std::string, std::string> metadata = c.metadata;
  const std::string step = std::to_string(c.step);
  const auto given = metadata.find("step");
  RSD_CHECK(given == metadata.end() || given->second == step, "checkpoint of step ", c.step,
            ": the metadata says \"step\": \"", given == metadata.end() ? "" : given->second, "\"");
  metadata["step"] = step;
  const auto [format, added] = metadata.emplace("format", kCheckpointFormat);
  RSD_CHECK(added || format->second == kCheckpointFormat, "checkpoint of step ", c.step,
            ": the metadata says \"format\": \"", format->second, "\", but rsd writes ", kCheckpointFormat);
  return metadata;
}

std::string read_text_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  RSD_CHECK(f != nullptr, "cannot open ", path, ": ", std::strerror(errno));
  std::string text;
  char buffer[1 << 16];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), f)) > 0) text.append(buffer, n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  RSD_CHECK(!failed, "cannot read ", path);
  return text;
}

int64_t metadata_step(const SafetensorsFile& file) {
  const auto it = file.metadata().find("step");
  RSD_CHECK(it != file.metadata().end(), file.path(), ": not a checkpoint: its __metadata__ has no \"step\"");
  int64_t step = 0;
  RSD_CHECK(parse_int64(it->second, step) && step >= 0, file.path(), ": __metadata__ \"step\" is \"", it->second,
            "\", not a step number");
  const auto format = file.metadata().find("format");
  RSD_CHECK(format == file.metadata().end() || format->second == kCheckpointFormat, file.path(),
            ": checkpoint format \"", format->second, "\" is not supported (this build reads ", kCheckpointFormat, ")");
  return step;
}

nlohmann::json parse_sidecar(const std::string& sidecar_path, const std::string& text) {
  RSD_CHECK(json_depth(text.data(), text.size()) <= kMaxJsonDepth, sidecar_path, ": JSON nested deeper than ",
            kMaxJsonDepth, " levels; not a checkpoint sidecar (damaged?), use an earlier checkpoint");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(sidecar_path, ": not valid JSON (", e.what(), "); the checkpoint is damaged, use an earlier one");
  }
  RSD_CHECK(j.is_object() && j.contains("step"), sidecar_path, ": no \"step\" field; not a checkpoint sidecar");
  RSD_CHECK(j["step"].is_number_integer(), sidecar_path, ": \"step\" is ", j["step"].dump(), ", not an integer");
  return j;
}

}  // namespace

std::string checkpoint_sidecar_path(const std::string& safetensors_path) {
  return fs::path(safetensors_path).replace_extension(kSidecarSuffix).string();
}

CheckpointDir::CheckpointDir(std::string dir, int keep_last) : dir_(std::move(dir)), keep_last_(keep_last) {
  RSD_CHECK(keep_last_ >= 1, "checkpoint directory ", dir_, ": keep_last is ", keep_last_, ", must be at least 1");
  std::error_code ec;
  fs::create_directories(dir_, ec);
  RSD_CHECK(!ec, "cannot create checkpoint directory ", dir_, ": ", ec.message());
  RSD_CHECK(fs::is_directory(dir_, ec), "checkpoint directory ", dir_, " is not a directory");
}

std::string CheckpointDir::save(const CheckpointContent& c) {
  RSD_CHECK(c.step >= 0, "checkpoint directory ", dir_, ": step ", c.step, " is negative");
  const std::string stem = stem_of_step(c.step);
  const std::string weights = (fs::path(dir_) / (stem + kWeightsSuffix)).string();
  ordered_json sidecar = sidecar_object(c.sidecar_json, c.step);
  std::vector<std::pair<std::string, uint32_t>> crcs;
  // Never a non-finite value in a checkpoint: the writer checks each tensor as it streams it, and
  // on one the file is not written, so the newest checkpoint on disk stays the last good one.
  SafetensorsWriteOptions options;
  options.require_finite = true;
  try {
    crcs = write_safetensors(weights, c.tensors, checkpoint_metadata(c), options);
  } catch (const NonFiniteError& e) {
    throw NonFiniteError(str_cat("checkpoint of step ", c.step, " not written: ", e.what(), "; ", newest_note()));
  } catch (const Error& e) {
    fail("checkpoint of step ", c.step, " not written: ", e.what(), "; ", newest_note());
  }
  // The tensors' checksums go in the sidecar, written after the weights: load_checkpoint verifies
  // every tensor against them, so a flipped bit in the weights is found, not trained on.
  ordered_json checksums = ordered_json::object();
  for (const auto& [name, crc] : crcs) checksums[name] = crc;
  sidecar[kChecksumsKey] = std::move(checksums);
  write_file_atomically(checkpoint_sidecar_path(weights), sidecar.dump(2) + "\n");
  prune(c.step);
  return weights;
}

// Keeps the checkpoint just saved and the keep_last - 1 newest others. A sidecar goes before its
// weights, so an interrupted removal leaves an incomplete checkpoint, never a wrong one.
void CheckpointDir::prune(int64_t saved_step) const {
  const std::string saved_stem = stem_of_step(saved_step);
  std::vector<Found> others;
  bool removed = remove_dead_temp_files(dir_);
  for (const Found& f : scan(dir_)) {
    if (f.stem == saved_stem) continue;
    if (f.complete()) {
      others.push_back(f);
    } else if (f.step < saved_step) {
      if (f.sidecar) remove_file(fs::path(dir_) / (f.stem + kSidecarSuffix));
      if (f.weights) remove_file(fs::path(dir_) / (f.stem + kWeightsSuffix));
      removed = true;
    }
  }
  const size_t keep_others = static_cast<size_t>(keep_last_ - 1);
  for (size_t i = 0; i + keep_others < others.size(); ++i) {
    remove_file(fs::path(dir_) / (others[i].stem + kSidecarSuffix));
    remove_file(fs::path(dir_) / (others[i].stem + kWeightsSuffix));
    removed = true;
  }
  if (removed) sync_parent_directory((fs::path(dir_) / saved_stem).string());
}

std::string CheckpointDir::newest_note() const {
  const std::optional<std::string> good = latest();
  return good ? "the newest checkpoint is still " + *good : std::string("no earlier checkpoint exists");
}

std::optional<std::string> CheckpointDir::latest() const {
  const std::vector<std::string> all = list();
  if (all.empty()) return std::nullopt;
  return all.back();
}

std::vector<std::string> CheckpointDir::list() const { return complete_checkpoints(dir_); }

LoadedCheckpoint load_checkpoint(const std::string& path) {
  std::error_code ec;
  std::string weights = path;
  if (fs::is_directory(path, ec)) {
    const std::vector<std::string> all = complete_checkpoints(path);
    RSD_CHECK(!all.empty(), path, ": no checkpoint in this directory (no step-N.safetensors with its step-N.json "
              "beside it)");
    weights = all.back();
  }
  RSD_CHECK(fs::exists(weights, ec), "cannot open checkpoint ", weights, ": no such file or directory");
  const std::string sidecar_path = checkpoint_sidecar_path(weights);
  RSD_CHECK(fs::exists(sidecar_path, ec), weights, ": its sidecar ", sidecar_path,
            " is missing; the checkpoint is incomplete, use an earlier one");

  SafetensorsFile file = SafetensorsFile::open(weights);
  const int64_t step = metadata_step(file);
  std::string sidecar = read_text_file(sidecar_path);
  const nlohmann::json parsed = parse_sidecar(sidecar_path, sidecar);
  const int64_t stated = parsed["step"].get<int64_t>();
  RSD_CHECK(stated == step, weights, ": step ", step, " in its metadata, but ", stated, " in its sidecar ",
            sidecar_path, "; the two files belong to different checkpoints");
  const std::optional<int64_t> named = step_of_file_name(fs::path(weights).filename().string(), kWeightsSuffix);
  RSD_CHECK(!named || *named == step, weights, ": step ", step, " in its metadata, but its name says ", *named);
  verify_checksums(file, parsed, sidecar_path);
  return LoadedCheckpoint{weights, step, std::move(file), std::move(sidecar)};
}

}  // namespace rsd
