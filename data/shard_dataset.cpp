#include "data/shard_dataset.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data/shard_header.h"
#include "engine/atomic_file.h"
#include "engine/error.h"

namespace rsd::data {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

bool is_shard_name(const std::string& name) {
  return name.rfind("shard-", 0) == 0 && name.size() > 4 && name.compare(name.size() - 4, 4, ".rsd") == 0;
}

// Refuses a folder that already holds a dataset: overwriting part of one would mix two.
void check_folder_free(const fs::path& folder) {
  if (!fs::exists(folder)) return;
  RSD_CHECK(fs::is_directory(folder), "cannot write a dataset to ", folder.string(), ": it is not a folder");
  for (const auto& entry : fs::directory_iterator(folder)) {
    const std::string name = entry.path().filename().string();
    RSD_CHECK(name != kDatasetIndexName && !is_shard_name(name), "cannot write a dataset to ", folder.string(),
              ": it already holds ", name, "; remove the old dataset or choose another folder");
  }
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

// ---- writer ----

DatasetWriter::DatasetWriter(std::string folder, ShardLayout layout, int64_t records_per_shard)
    : folder_(std::move(folder)), layout_(std::move(layout)), records_per_shard_(records_per_shard) {
  RSD_CHECK(records_per_shard_ > 0, "dataset ", folder_, ": records per shard must be positive, got ",
            records_per_shard_);
  check_folder_free(folder_);
  std::error_code ec;
  made_folder_ = fs::create_directories(folder_, ec);
  RSD_CHECK(!ec, "cannot create the folder ", folder_, ": ", ec.message());
}

DatasetWriter::~DatasetWriter() {
  if (!finished_) remove_made();
}

void DatasetWriter::remove_made() noexcept {
  writers_.clear();  // each unfinished writer removes its temporaries
  for (const std::string& p : finished_paths_) std::remove(p.c_str());
  std::remove((fs::path(folder_) / kDatasetIndexName).string().c_str());
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
  return result;
}

// ---- reader ----

ShardDataset::ShardDataset(const std::string& path) {
  if (fs::is_directory(path)) {
    const std::string index = (fs::path(path) / kDatasetIndexName).string();
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

void ShardDataset::open_index(const std::string& index_path) {
  path_ = index_path;
  const std::string text = read_text(index_path);
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail("dataset index ", index_path, " is not valid JSON: ", e.what());
  }
  const fs::path folder = fs::path(index_path).parent_path();
  try {
    RSD_CHECK(j.is_object() && j.value("format", "") == "rsd-dataset", index_path, " is not an rsd dataset index");
    const auto version = j.at("version").get<uint32_t>();
    RSD_CHECK(version == kDatasetVersion, "dataset index ", index_path, " has version ", version,
              "; this build reads version ", kDatasetVersion);
    layout_ = decode_layout(j.at("layout").dump(), index_path);
    layout_.synthetic = j.value("synthetic", false);
    statistics_json_ = j.at("statistics").dump();
    info_json_ = j.value("info", json::object()).dump();
    for (const json& s : j.at("shards")) {
      const std::string file = (folder / s.at("file").get<std::string>()).string();
      const auto records = s.at("records").get<int64_t>();
      auto reader = std::make_unique<ShardReader>(file);
      RSD_CHECK(reader->layout() == layout_, "shard ", file, " has another layout than its index ", index_path);
      RSD_CHECK(reader->size() == records, "shard ", file, " holds ", reader->size(), " records, its index ",
                index_path, " says ", records);
      starts_.push_back(starts_.back() + records);
      shards_.push_back(std::move(reader));
    }
    const auto count = j.at("record_count").get<int64_t>();
    RSD_CHECK(count == size(), "dataset index ", index_path, " says ", count, " records but its shards hold ", size());
  } catch (const json::exception& e) {
    fail("corrupt dataset index ", index_path, ": ", e.what());
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
    for (int64_t i : r.verify_all()) bad.push_back({r.path(), i, shard_start(s) + i, r.meta(i).id});
  }
  return bad;
}

}  // namespace rsd::data
