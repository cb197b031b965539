#include "data/shard_dataset.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data/shard_header.h"
#include "engine/atomic_file.h"
#include "engine/error.h"
#include "engine/json_limits.h"

namespace rsd::data {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

bool is_shard_name(const std::string& name) {
  return name.rfind("shard-", 0) == 0 && name.size() > 4 && name.compare(name.size() - 4, 4, ".rsd") == 0;
}

std::string this_host() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "";
  return name;
}

// Whether `pid` names a process that runs (on this host). A pid we cannot signal (EPERM) runs.
bool process_runs(int64_t pid) {
  if (pid <= 0 || pid > INT32_MAX) return false;
  if (pid == ::getpid()) return true;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH;
}

// "<base>.tmp.<pid>" (engine/atomic_file.h, ShardWriter): the pid, and the base in *base; else -1.
int64_t temporary_pid(const std::string& name, std::string* base) {
  static const std::string infix = ".tmp.";
  const size_t at = name.rfind(infix);
  if (at == std::string::npos || at == 0) return -1;
  const std::string digits = name.substr(at + infix.size());
  const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  if (digits.empty() || digits.size() > 10 || !std::all_of(digits.begin(), digits.end(), is_digit)) return -1;
  *base = name.substr(0, at);
  return std::stoll(digits);
}

// Names a dataset writer makes: shard files, their partials ("shard-3.partial.records.tmp.<pid>")
// and temporaries, dataset.json's temporary, and the caller's own (`also_ours`).
bool writer_name(const std::string& name, const std::vector<std::string>& also_ours) {
  if (name.rfind("shard-", 0) == 0) return true;
  std::string base;
  const std::string stem = temporary_pid(name, &base) >= 0 ? base : name;
  if (stem == kDatasetIndexName || stem == kWritingMarkerName) return true;
  return std::find(also_ours.begin(), also_ours.end(), stem) != also_ours.end();
}

struct Marker {
  int64_t pid = 0;
  std::string host;
  bool readable = false;
};

// An empty or unreadable marker is one its writer did not get to fill (killed right after making it).
Marker read_marker(const fs::path& path) {
  Marker m;
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  try {
    const json j = json::parse(ss.str());
    if (!j.at("pid").is_number_integer()) return m;  // a float would convert with undefined behaviour
    m.pid = j.at("pid").get<int64_t>();
    m.host = j.at("host").get<std::string>();
    m.readable = true;
  } catch (const json::exception&) {
  }
  return m;
}

std::string human_size(uint64_t bytes) {
  char s[32];
  if (bytes < 1000 * 1000) {
    std::snprintf(s, sizeof s, "%llu KB", static_cast<unsigned long long>((bytes + 999) / 1000));
  } else {
    std::snprintf(s, sizeof s, "%.1f MB", static_cast<double>(bytes) / 1e6);
  }
  return s;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  RSD_CHECK(in.good(), "cannot open ", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string shard_file_name(int64_t index, int64_t count) {
  char name[64];
  std::snprintf(name, sizeof name, "shard-%05lld-of-%05lld.rsd", static_cast<long long>(index),
                static_cast<long long>(count));
  return name;
}

std::string missing_index_problem(const std::string& folder_text) {
  const fs::path folder(folder_text);
  std::error_code ec;
  if (!fs::is_directory(folder, ec) || fs::exists(folder / kDatasetIndexName, ec)) return "";
  if (fs::exists(folder / kWritingMarkerName, ec)) {
    return str_cat("the folder ", folder_text, " holds no ", kDatasetIndexName, ": a pack into it has not finished (",
                   "it is running, or was killed: ", kWritingMarkerName, " is there); `rsd pack` into the same "
                   "folder again starts it over");
  }
  std::string first;
  int64_t shards = 0;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!is_shard_name(name)) continue;
    ++shards;
    if (first.empty() || name < first) first = name;
  }
  if (shards == 0) return "";
  return str_cat("the folder ", folder_text, " holds ", shards, " shard file(s) (", first, "...) but no ",
                 kDatasetIndexName, ", the dataset's index (removed, or the pack did not finish); pack the source "
                 "again, restore ", kDatasetIndexName, " from a copy, or give one .rsd shard to read it alone");
}

std::string FolderCleanup::describe() const {
  if (removed.empty()) return "";
  const std::string folder = fs::path(removed.front()).parent_path().string();
  return str_cat("removed ", removed.size(), removed.size() == 1 ? " file (" : " files (", human_size(bytes),
                 ") left in ", folder, " by an interrupted write",
                 writer_pid > 0 ? str_cat(" (process ", writer_pid, ", no longer running)") : std::string(),
                 "; writing the dataset from the start");
}

FolderCleanup prepare_dataset_folder(const std::string& folder_text, const std::vector<std::string>& also_ours) {
  const fs::path folder(folder_text);
  FolderCleanup cleanup;
  std::error_code ec;
  if (!fs::exists(folder, ec)) return cleanup;
  RSD_CHECK(fs::is_directory(folder, ec), "cannot write a dataset to ", folder_text,
            ": it is not a folder; give a folder (it is made when missing)");
  RSD_CHECK(!fs::exists(folder / kDatasetIndexName, ec), "cannot write a dataset to ", folder_text,
            ": it already holds ", kDatasetIndexName,
            " (a complete dataset); remove the old dataset or choose another folder");

  // A marker: a writer is at work, or was killed (its process gone: everything it made is debris).
  const fs::path marker = folder / kWritingMarkerName;
  bool dead_writer = false;
  if (fs::exists(marker, ec)) {
    const Marker m = read_marker(marker);
    if (m.readable) {
      const std::string host = this_host();
      RSD_CHECK(m.host == host, "cannot write a dataset to ", folder_text, ": process ", m.pid, " on host ", m.host,
                " is writing one there, or was killed doing so (", marker.string(),
                "); if no rsd pack runs there any more, remove that file and run the command again");
      RSD_CHECK(!process_runs(m.pid), "cannot write a dataset to ", folder_text, ": process ", m.pid,
                " is writing one there (", marker.string(), "); wait for it to finish, or stop it and run again");
      cleanup.writer_pid = m.pid;
    }
    dead_writer = true;
  }

  std::vector<fs::path> debris;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    std::string base;
    const int64_t pid = temporary_pid(name, &base);
    if (pid >= 0 && writer_name(name, also_ours)) {
      RSD_CHECK(!process_runs(pid), "cannot write a dataset to ", folder_text, ": process ", pid,
                " is writing one there (", it->path().string(), "); wait for it to finish, or stop it and run again");
      debris.push_back(it->path());
    } else if (dead_writer && writer_name(name, also_ours)) {
      debris.push_back(it->path());
    } else {
      RSD_CHECK(!is_shard_name(name), "cannot write a dataset to ", folder_text, ": it already holds ", name,
                " but no ", kDatasetIndexName, " (not made by an interrupted rsd pack of this version: no ",
                kWritingMarkerName, "); remove the shard files or choose another folder");
    }
  }
  RSD_CHECK(!ec, "cannot list ", folder_text, ": ", ec.message());
  for (const fs::path& p : debris) {
    std::error_code size_ec;
    const uintmax_t size = fs::file_size(p, size_ec);
    std::error_code remove_ec;
    if (fs::remove(p, remove_ec)) {
      cleanup.removed.push_back(p.string());
      if (!size_ec) cleanup.bytes += size;
    } else if (remove_ec) {
      fail("cannot remove ", p.string(), " (left by an interrupted write into ", folder_text,
           "): ", remove_ec.message(), "; remove it by hand, or choose another folder");
    }
  }
  // Removals that would reappear after a crash would only be found again; no directory sync needed.
  return cleanup;
}

// ---- writer ----

DatasetWriter::DatasetWriter(std::string folder, ShardLayout layout, int64_t records_per_shard)
    : folder_(std::move(folder)), layout_(std::move(layout)), records_per_shard_(records_per_shard) {
  RSD_CHECK(records_per_shard_ > 0, "dataset ", folder_, ": records per shard must be positive, got ",
            records_per_shard_);
  prepare_dataset_folder(folder_);
  std::error_code ec;
  made_folder_ = fs::create_directories(folder_, ec);
  RSD_CHECK(!ec, "cannot create the folder ", folder_, ": ", ec.message());
  // The marker, made exclusively: two writers starting into one folder cannot both own it.
  const std::string marker = (fs::path(folder_) / kWritingMarkerName).string();
  const int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int e = errno;
    if (made_folder_) fs::remove(folder_, ec);
    RSD_CHECK(e != EEXIST, "cannot write a dataset to ", folder_, ": another process started writing one there (",
              marker, ")");
    fail("cannot write a dataset to ", folder_, ": cannot create ", marker, ": ", std::strerror(e));
  }
  marker_ = marker;
  const std::string text = json{{"pid", ::getpid()}, {"host", this_host()}}.dump() + "\n";
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int e = errno;
  ::close(fd);
  if (!written) {
    remove_made();
    fail("cannot write ", marker, ": ", std::strerror(e));
  }
}

DatasetWriter::~DatasetWriter() {
  if (!finished_) remove_made();
}

void DatasetWriter::remove_made() noexcept {
  writers_.clear();  // each unfinished writer removes its temporaries
  for (const std::string& p : finished_paths_) std::remove(p.c_str());
  std::remove((fs::path(folder_) / kDatasetIndexName).string().c_str());
  if (!marker_.empty()) std::remove(marker_.c_str());
  marker_.clear();
  std::error_code ec;
  if (made_folder_ && fs::is_empty(folder_, ec)) fs::remove(folder_, ec);
}

void DatasetWriter::append(const Sample& sample) {
  RSD_CHECK(!finished_, "dataset ", folder_, " is finished; cannot append sample \"", sample.id, "\"");
  check_sample_fits(sample, layout_);
  RSD_CHECK(ids_.insert(sample.id).second, "dataset ", folder_, ": sample id \"", sample.id,
            "\" appears twice; ids must be unique");
  if (writers_.empty() || writers_.back()->size() == records_per_shard_) {
    if (!writers_.empty()) writers_.back()->close_records();
    const std::string provisional = (fs::path(folder_) / str_cat("shard-", writers_.size(), ".partial")).string();
    writers_.push_back(std::make_unique<ShardWriter>(provisional, layout_));
  }
  writers_.back()->append(sample);
  ++count_;
}

void DatasetWriter::set_statistics(std::string json_text) {
  statistics_json_ = canonical_json(json_text, "the statistics of dataset " + folder_);
}

void DatasetWriter::set_info(std::string json_object) {
  const std::string text = canonical_json(json_object, "the info of dataset " + folder_);
  RSD_CHECK(json::parse(text).is_object(), "dataset ", folder_, ": info must be a JSON object, got ", text);
  info_json_ = text;
}

DatasetWriter::Result DatasetWriter::finish() {
  RSD_CHECK(!finished_, "dataset ", folder_, " is already finished");
  RSD_CHECK(count_ > 0, "dataset ", folder_, ": no samples to write");
  const auto n = static_cast<int64_t>(writers_.size());
  Result result;
  json shards = json::array();
  for (int64_t s = 0; s < n; ++s) {
    ShardWriter& w = *writers_[static_cast<size_t>(s)];
    const std::string name = shard_file_name(s, n);
    w.set_path((fs::path(folder_) / name).string());
    w.set_statistics(statistics_json_);
    w.finish();
    finished_paths_.push_back(w.path());
    result.shards.push_back(w.path());
    shards.push_back({{"file", name}, {"records", w.size()}});
  }
  const json index = {{"format", "rsd-dataset"},
                      {"version", kDatasetVersion},
                      {"shard_version", kShardVersion},
                      {"synthetic", layout_.synthetic},
                      {"layout", json::parse(encode_layout(layout_))},
                      {"record_bytes", record_layout(layout_).record_bytes},
                      {"record_count", count_},
                      {"statistics", json::parse(statistics_json_)},
                      {"info", json::parse(info_json_)},
                      {"shards", shards}};
  result.index_path = (fs::path(folder_) / kDatasetIndexName).string();
  write_file_atomically(result.index_path, index.dump(2) + "\n");
  finished_ = true;
  writers_.clear();
  // Complete: the marker goes (a kill before this leaves it beside a dataset.json, which wins).
  std::remove(marker_.c_str());
  marker_.clear();
  sync_parent_directory(result.index_path);
  return result;
}

// ---- reader ----

ShardDataset::ShardDataset(const std::string& path) {
  if (fs::is_directory(path)) {
    const std::string index = (fs::path(path) / kDatasetIndexName).string();
    const std::string problem = missing_index_problem(path);
    RSD_CHECK(problem.empty(), problem);
    RSD_CHECK(fs::exists(index), "the folder ", path, " holds no ", kDatasetIndexName,
              " (not a packed dataset; `rsd pack` makes one)");
    open_index(index);
  } else if (fs::path(path).extension() == ".json") {
    open_index(path);
  } else {
    path_ = path;
    shards_.push_back(std::make_unique<ShardReader>(path));
    layout_ = shards_[0]->layout();
    statistics_json_ = shards_[0]->statistics_json();
    starts_.push_back(shards_[0]->size());
  }
}

DatasetIndex read_dataset_index(const std::string& index_path) {
  DatasetIndex ix;
  ix.path = index_path;
  const std::string text = read_text(index_path);
  RSD_CHECK(json_depth(text.data(), text.size()) <= kMaxJsonDepth, "dataset index ", index_path,
            " nests JSON deeper than ", kMaxJsonDepth, " levels: it is damaged, or not an rsd dataset index");
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail("dataset index ", index_path, " is not valid JSON (", e.what(),
         "): it is damaged; pack the source again, or restore it from a copy");
  }
  const fs::path folder = fs::path(index_path).parent_path();
  try {
    RSD_CHECK(j.is_object() && j.value("format", "") == "rsd-dataset", index_path, " is not an rsd dataset index");
    const int64_t version = json_integer(j, "version", 0, INT64_MAX, "corrupt dataset index ", index_path);
    RSD_CHECK(version == kDatasetVersion, "dataset index ", index_path, " has version ", version,
              "; this build reads version ", kDatasetVersion);
    ix.layout = decode_layout(j.at("layout").dump(), index_path);
    ix.layout.synthetic = j.value("synthetic", false);
    ix.statistics_json = j.at("statistics").dump();
    ix.info_json = j.value("info", json::object()).dump();
    int64_t listed = 0;
    for (const json& s : j.at("shards")) {
      DatasetIndex::Entry e;
      e.file = (folder / s.at("file").get<std::string>()).string();
      e.records = json_integer(s, "records", 0, INT64_MAX, "corrupt dataset index ", index_path);
      RSD_CHECK(e.records >= 0 && e.records <= INT64_MAX - listed, "corrupt dataset index ", index_path, ": shard ",
                e.file, " has ", e.records, " records");
      listed += e.records;
      ix.shards.push_back(std::move(e));
    }
    ix.record_count = json_integer(j, "record_count", 0, INT64_MAX, "corrupt dataset index ", index_path);
    RSD_CHECK(ix.record_count == listed, "dataset index ", index_path, " says ", ix.record_count,
              " records but its shards list ", listed);
  } catch (const json::exception& e) {
    fail("corrupt dataset index ", index_path, ": ", e.what());
  }
  return ix;
}

std::unique_ptr<ShardReader> open_indexed_shard(const DatasetIndex& index, size_t s) {
  const DatasetIndex::Entry& e = index.shards.at(s);
  auto reader = std::make_unique<ShardReader>(e.file);
  RSD_CHECK(reader->layout() == index.layout, "shard ", e.file, " has another layout than its index ", index.path);
  RSD_CHECK(reader->size() == e.records, "shard ", e.file, " holds ", reader->size(), " records, its index ",
            index.path, " says ", e.records);
  return reader;
}

void ShardDataset::open_index(const std::string& index_path) {
  path_ = index_path;
  const DatasetIndex index = read_dataset_index(index_path);
  layout_ = index.layout;
  statistics_json_ = index.statistics_json;
  info_json_ = index.info_json;
  const std::string parent = fs::path(index_path).parent_path().string();
  const std::string folder = parent.empty() ? "." : parent;
  for (size_t s = 0; s < index.shards.size(); ++s) {
    try {
      shards_.push_back(open_indexed_shard(index, s));
    } catch (const Error& e) {
      fail(e.what(), "; the dataset ", folder, " is damaged: `rsd info --verify ", folder,
           "` lists all its damage; pack the source again, or restore the shard from a copy");
    }
    starts_.push_back(starts_.back() + index.shards[s].records);
  }
}

ShardDataset::Location ShardDataset::locate(int64_t global) const {
  RSD_CHECK(global >= 0 && global < size(), "dataset ", path_, ": record ", global, " is out of range [0, ", size(),
            ")");
  // The last start <= global; shards may be empty, so take the last such one.
  const auto it = std::upper_bound(starts_.begin(), starts_.end() - 1, global);
  const auto s = static_cast<int64_t>(it - starts_.begin()) - 1;
  return {s, global - starts_[static_cast<size_t>(s)]};
}

RecordView ShardDataset::record_view(int64_t global) const {
  const Location l = locate(global);
  return shard(l.shard).record_view(l.index);
}

Sample ShardDataset::read_sample(int64_t global) const {
  const Location l = locate(global);
  return shard(l.shard).read_sample(l.index);
}

const RecordMeta& ShardDataset::meta(int64_t global) const {
  const Location l = locate(global);
  return shard(l.shard).meta(l.index);
}

bool ShardDataset::verify(int64_t global) const {
  const Location l = locate(global);
  return shard(l.shard).verify(l.index);
}

std::vector<CorruptRecord> ShardDataset::verify_all() const {
  std::vector<CorruptRecord> bad;
  for (int64_t s = 0; s < shard_count(); ++s) {
    const ShardReader& r = shard(s);
    for (int64_t i : r.verify_all()) bad.push_back({r.path(), i, shard_start(s) + i, r.meta(i).id, ""});
  }
  return bad;
}

}  // namespace rsd::data
