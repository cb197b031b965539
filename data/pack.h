// `rsd pack SRC OUT`: converts a dataset in any supported layout (data/layouts.h) into shards
// (data/shard_dataset.h): samples are loaded on worker threads, written in the source's order,
// per-band statistics are accumulated at ingestion (data/normalization.h, over valid pixels, in
// each band's physical unit) and stored in every shard header and in dataset.json.
//
// Bad samples: without skip_bad the first one aborts the pack with its error (naming the file)
// and nothing is left in OUT; with skip_bad it is skipped, counted, and listed in OUT/skipped.json
// ({"id", "file", "error"} each). A sample that loads but does not fit the layout of the first
// good one (other bands or size) counts as bad too.
//
// Preflight, before a sample is read: OUT is not SRC, not inside SRC and does not hold SRC; OUT is
// a folder (or can be made) in which a file can be created; then, from the first sample's record
// size, the file system has room for every record plus one shard's records a second time (a
// shard is assembled from its records' temporary file) and the headers. Each is an rsd::Error
// naming OUT, the problem (the need and the free space) and what to do.
//
// A pack killed outright (kill -9, a crash) leaves temporaries, maybe finished shards, and the
// writer's marker, but never a dataset.json. The next pack into the same OUT starts over: it
// removes that debris (only names a pack makes, and skipped.json) and says so; it refuses an OUT
// that a live pack is writing (data/shard_dataset.h: prepare_dataset_folder).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data/normalization.h"
#include "data/sample.h"

namespace rsd::data {

// What pack reads from: the samples of a discovered dataset, synthetic samples, or (in tests)
// samples in memory. try_load is called from several threads at once.
class PackSource {
 public:
  virtual ~PackSource() = default;
  virtual int64_t size() const = 0;
  virtual std::string id(int64_t i) const = 0;
  virtual std::string files(int64_t i) const = 0;  // the sample's file(s), for the skipped report
  // The sample, or nullopt with the error (naming the file and what is wrong) in *error.
  virtual std::optional<data::Sample> try_load(int64_t i, std::string* error) const = 0;
  // How sample i stores its values, for the statistics (data/normalization.h).
  virtual data::SourceScaling scaling(int64_t i) const { return {}; }
};

struct PackOptions {
  std::string layout_name;               // stored as the shards' layout name
  std::vector<std::string> class_names;  // the layout's class list
  bool synthetic = false;                // labels shards and dataset.json "synthetic": true
  int64_t records_per_shard = 0;         // 0: as many as fit in about 1 GiB
  bool skip_bad = false;
  int threads = 1;
  bool progress = true;                  // a progress bar on stdout
  std::string info_json = "{}";          // extra facts for dataset.json's "info" (a JSON object)
};

struct SkippedSample {
  std::string id, file, error;
};

struct PackResult {
  int64_t packed = 0;
  std::vector<SkippedSample> skipped;
  std::vector<std::string> shards;
  std::string index_path;      // OUT/dataset.json
  std::string skipped_report;  // OUT/skipped.json when skip_bad, else empty
  int64_t record_bytes = 0;
  data::BandStatistics statistics;
};

PackResult pack_samples(const PackSource& source, const std::string& out, const PackOptions& options);

// The command line's `rsd pack`.
struct PackCommand {
  std::string src, out;
  std::string layout;       // a layout name (data/layouts.h), or empty to detect it
  std::string s2_level;     // "L1C", "L2A" or empty (the layout's default)
  int64_t records_per_shard = 0;
  bool skip_bad = false;
  int threads = 1;
  bool progress = true;
};

// Discovers SRC and packs it. Needs GDAL (rsd::Error saying so in a build without it).
PackResult pack_dataset(const PackCommand& command);

}  // namespace rsd::data
