// Datasets of many shards: a folder of shard-00000-of-00012.rsd ... files and dataset.json, the
// index listing them with their record counts, the layout and the statistics. The writer finishes
// every shard and writes dataset.json last (atomically), so a folder with a dataset.json holds a
// complete dataset; an interrupted write removes what it made.
//
// A writer killed outright (kill -9, a crash, the machine going down) cannot remove anything: it
// leaves temporaries ("<name>.tmp.<pid>", records of every shard so far) and maybe finished shards
// without a dataset.json. So while it writes, a writer keeps a marker in the folder
// (dataset.writing: its pid and host), removed with its dataset.json written or when it gives up.
// The next writer into the folder (prepare_dataset_folder) starts over: a marker whose process is
// gone means everything the writer makes there is debris and is removed; temporaries of a dead
// process are removed in any case. A folder that holds a dataset.json (complete) or that a live
// process is writing is refused. Resuming is not offered: a shard's record metadata and the
// statistics live in the writer's memory until the end, so the debris cannot be completed.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "data/shard.h"

namespace rsd::data {

constexpr const char* kDatasetIndexName = "dataset.json";
constexpr uint32_t kDatasetVersion = 1;

// "shard-00003-of-00012.rsd": index 3 of 12 shards.
std::string shard_file_name(int64_t index, int64_t count);

// The marker a DatasetWriter keeps in its folder while it writes (JSON: pid, host).
constexpr const char* kWritingMarkerName = "dataset.writing";

// When `folder` holds shard files or a writer's marker but no dataset.json: what is wrong and
// what to do (a pack that has not finished, or a removed index), for the errors of the commands
// that look for a dataset there. "" otherwise.
std::string missing_index_problem(const std::string& folder);

// What prepare_dataset_folder removed: debris of an interrupted write.
struct FolderCleanup {
  std::vector<std::string> removed;  // paths
  uint64_t bytes = 0;
  int64_t writer_pid = 0;            // the dead writer named by its marker, or 0
  bool empty() const { return removed.empty(); }
  std::string describe() const;      // "removed 12 files (310 MB) left by an interrupted write (process 4242) in F"
};

// Makes `folder` ready for a new dataset (nothing to do when it does not exist). Throws rsd::Error
// naming the folder and what to do when it is not a folder, holds a dataset.json, is being written
// by a live process (its marker or a temporary names a running pid on this host; another host's
// marker cannot be checked and is refused too), or holds shard files with no marker (not debris we
// can prove ours). Otherwise removes the debris of a dead writer: temporaries of dead processes,
// and, when a dead writer's marker is there, every shard file, partial, `also_ours` name (e.g.
// the pack's skipped.json) and the marker. Other files are left alone.
FolderCleanup prepare_dataset_folder(const std::string& folder, const std::vector<std::string>& also_ours = {});

class DatasetWriter {
 public:
  // Creates `folder` when missing and puts the marker in it (prepare_dataset_folder first: refuses a
  // folder that holds a dataset or that a live process writes, removes a dead writer's debris).
  DatasetWriter(std::string folder, ShardLayout layout, int64_t records_per_shard);
  // Without finish(): removes every shard and temporary file it made, and the folder if it made
  // it and it is left empty.
  ~DatasetWriter();
  DatasetWriter(const DatasetWriter&) = delete;
  DatasetWriter& operator=(const DatasetWriter&) = delete;

  // Throws (naming the sample) when the sample does not fit the layout or its id is a duplicate.
  void append(const Sample& sample);
  int64_t size() const { return count_; }
  const ShardLayout& layout() const { return layout_; }
  const std::string& folder() const { return folder_; }

  // Per-band statistics (JSON text), written into every shard header and dataset.json.
  void set_statistics(std::string json);
  // Extra facts for dataset.json's "info" object (a JSON object as text): source, tool, skipped.
  void set_info(std::string json_object);

  struct Result {
    std::string index_path;           // <folder>/dataset.json
    std::vector<std::string> shards;  // paths, in order
  };
  // Names the shards "-of-N", writes them (headers with the statistics), then dataset.json.
  Result finish();

 private:
  void remove_made() noexcept;

  std::string folder_;
  std::string marker_;  // <folder>/dataset.writing, while it writes
  ShardLayout layout_;
  int64_t records_per_shard_;
  std::string statistics_json_ = "null";
  std::string info_json_ = "{}";
  std::vector<std::unique_ptr<ShardWriter>> writers_;
  std::vector<std::string> finished_paths_;  // shards renamed to their final name
  std::unordered_set<std::string> ids_;
  int64_t count_ = 0;
  bool made_folder_ = false;
  bool finished_ = false;
};

// A corrupted record found by verification.
struct CorruptRecord {
  std::string shard;     // the shard file
  int64_t index = 0;     // within the shard
  int64_t global = 0;    // within the dataset
  std::string id;        // "" when the shard's header cannot be read
  std::string problem;   // "" for a CRC32C mismatch; else why the whole shard cannot be read
};

// dataset.json, read and checked (format, version, layout, record counts) without opening the
// shards. rsd::Error naming the file when it is missing, not JSON, or not a valid index.
struct DatasetIndex {
  struct Entry {
    std::string file;  // the shard's path (beside the index)
    int64_t records = 0;
  };
  std::string path;
  ShardLayout layout;
  std::string statistics_json = "null", info_json = "{}";
  std::vector<Entry> shards;
  int64_t record_count = 0;
};
DatasetIndex read_dataset_index(const std::string& index_path);

// Shard s of the index, opened and checked against it (layout, record count); rsd::Error naming
// the file when it is missing, truncated, has a corrupt header or disagrees with the index.
std::unique_ptr<ShardReader> open_indexed_shard(const DatasetIndex& index, size_t s);

// Reads a dataset through its shards with global record indices 0 .. size() - 1 in shard order.
class ShardDataset {
 public:
  // `path`: a dataset.json, a folder holding one, or a single .rsd shard (a one-shard dataset).
  // Throws rsd::Error naming the file when the index or a shard is missing, corrupt, or
  // disagrees with the index (layout, record count).
  explicit ShardDataset(const std::string& path);

  const std::string& path() const { return path_; }  // the index (or the single shard)
  int64_t size() const { return starts_.back(); }
  const ShardLayout& layout() const { return layout_; }
  const std::string& statistics_json() const { return statistics_json_; }
  const std::string& info_json() const { return info_json_; }  // "{}" for a single shard
  bool synthetic() const { return layout_.synthetic; }

  int64_t shard_count() const { return static_cast<int64_t>(shards_.size()); }
  const ShardReader& shard(int64_t s) const { return *shards_.at(static_cast<size_t>(s)); }
  int64_t shard_start(int64_t s) const { return starts_.at(static_cast<size_t>(s)); }

  struct Location {
    int64_t shard = 0;
    int64_t index = 0;
  };
  Location locate(int64_t global) const;

  RecordView record_view(int64_t global) const;
  Sample read_sample(int64_t global) const;
  const RecordMeta& meta(int64_t global) const;
  bool verify(int64_t global) const;
  std::vector<CorruptRecord> verify_all() const;

 private:
  void open_index(const std::string& index_path);

  std::string path_;
  ShardLayout layout_;
  std::string statistics_json_ = "null";
  std::string info_json_ = "{}";
  std::vector<std::unique_ptr<ShardReader>> shards_;
  std::vector<int64_t> starts_{0};  // starts_[s] = global index of shard s's first record; back() = size
};

}  // namespace rsd::data
