#include "data/inspect.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>

#include "data/gdal/raster_reader.h"
#include "data/layouts.h"
#include "data/normalization.h"
#include "engine/error.h"
#include "engine/progress.h"

namespace rsd::data {
namespace {

namespace fs = std::filesystem;

std::string human_bytes(double bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (bytes >= 1000.0 && u < 4) {
    bytes /= 1000.0;
    ++u;
  }
  char s[32];
  std::snprintf(s, sizeof s, u == 0 ? "%.0f %s" : "%.2f %s", bytes, units[u]);
  return s;
}

std::string joined(const std::vector<std::string>& names, size_t at_most = 20) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < at_most; ++i) out += (i ? " " : "") + names[i];
  if (names.size() > at_most) out += str_cat(" ... (", names.size(), " in all)");
  return out;
}

bool starts_with_shard_magic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[8] = {};
  in.read(magic, sizeof magic);
  return in.gcount() == 8 && std::memcmp(magic, data::kShardMagic, 8) == 0;
}

// The statistics as a table when they are data/normalization.h's, else as stored.
std::string statistics_text(const data::ShardDataset& ds) {
  const std::string& stored = ds.statistics_json();
  if (stored == "null") return "statistics: none stored\n";
  data::BandStatistics stats;
  try {
    stats = data::BandStatistics::from_json(stored, ds.path());
  } catch (const Error&) {
    return "statistics (as stored): " + stored.substr(0, 2000) + (stored.size() > 2000 ? " ..." : "") + "\n";
  }
  std::string out = "statistics (valid pixels, physical units; std is the population std):\n";
  char line[256];
  std::snprintf(line, sizeof line, "  %-6s %-12s %12s %12s %12s %12s %14s  %s\n", "band", "unit", "mean", "std", "min",
                "max", "count", "clip");
  out += line;
  for (const data::RasterLayout& r : ds.layout().rasters) {
    for (const std::string& band : r.bands) {
      const auto it = stats.bands.find(band);
      if (it == stats.bands.end()) continue;
      const data::BandStats& s = it->second;
      std::snprintf(line, sizeof line, "  %-6s %-12s %12.6g %12.6g %12.6g %12.6g %14lld  [%g, %g]\n", band.c_str(),
                    data::band_kind_name(s.kind), s.mean, s.std, s.min, s.max, static_cast<long long>(s.count),
                    s.clip.lo, s.clip.hi);
      out += line;
    }
  }
  return out;
}

std::string rasters_text(const data::ShardDataset& ds) {
  std::vector<int64_t> invalid(ds.layout().rasters.size(), 0);
  for (int64_t s = 0; s < ds.shard_count(); ++s)
    for (int64_t i = 0; i < ds.shard(s).size(); ++i) {
      const data::RecordMeta& m = ds.shard(s).meta(i);
      for (size_t r = 0; r < invalid.size(); ++r) invalid[r] += m.rasters[r].invalid_count;
    }
  std::string out = "rasters (float32 (H, W, C) and a bit-packed validity mask each):\n";
  for (size_t r = 0; r < invalid.size(); ++r) {
    const data::RasterLayout& l = ds.layout().rasters[r];
    const double total = static_cast<double>(l.elements()) * static_cast<double>(ds.size());
    out += str_cat("  ", data::sensor_name(l.sensor), ": ", l.height, " x ", l.width, ", ", l.channels(),
                   l.channels() == 1 ? " band (" : " bands (", joined(l.bands), "); invalid values: ", invalid[r]);
    if (total > 0) {
      char pct[32];
      std::snprintf(pct, sizeof pct, " (%.4f%%)", 100.0 * static_cast<double>(invalid[r]) / total);
      out += pct;
    }
    out += "\n";
  }
  return out;
}

std::string labels_text(const data::ShardDataset& ds) {
  std::string out;
  const auto& classes = ds.layout().class_names;
  if (!classes.empty()) out += str_cat("classes: ", classes.size(), " (", joined(classes), ")\n");
  std::map<int32_t, int64_t> per_class;
  int64_t multi = 0;
  for (int64_t i = 0; i < ds.size(); ++i) {
    const data::RecordMeta& m = ds.meta(i);
    if (m.class_index >= 0) ++per_class[m.class_index];
    if (!m.label_names.empty()) ++multi;
  }
  if (!per_class.empty()) {
    out += "records per class:";
    for (const auto& [c, n] : per_class) {
      const bool named = c < static_cast<int32_t>(classes.size());
      out += str_cat(" ", named ? classes[static_cast<size_t>(c)] : std::to_string(c), " ", n, ";");
    }
    out += "\n";
  }
  if (multi > 0) out += str_cat("records with label names: ", multi, "\n");
  return out;
}

// One shard to verify: opened (reader) or not (problem: why it cannot be read).
struct VerifyTarget {
  std::string path;
  int64_t start = 0;    // global index of its first record
  int64_t records = 0;  // as the index (or its header) says
  const data::ShardReader* reader = nullptr;
  std::string problem;
};

// Checks every record's CRC32C; a shard that cannot be read loses all its records.
void verify(const std::vector<VerifyTarget>& shards, int64_t total, const InfoOptions& options, InfoResult& result) {
  std::optional<ProgressBar> bar;
  if (options.progress) bar.emplace("verify", total);
  for (const VerifyTarget& t : shards) {
    if (t.reader == nullptr) {
      for (int64_t i = 0; i < t.records; ++i) result.corrupted.push_back({t.path, i, t.start + i, "", t.problem});
      continue;
    }
    const data::ShardReader& r = *t.reader;
    for (int64_t i = 0; i < r.size(); ++i) {
      if (!r.verify(i)) result.corrupted.push_back({r.path(), i, t.start + i, r.meta(i).id, ""});
      if (bar && (i % 64 == 63 || i + 1 == r.size())) {
        bar->update(t.start + i + 1, str_cat(result.corrupted.size(), " corrupted"));
      }
    }
  }
  if (bar) bar->finish(str_cat(result.corrupted.size(), " corrupted"));
  result.verified = true;
  if (result.corrupted.empty()) {
    result.text += str_cat("verify: OK, all ", total, " records match their CRC32C\n");
    return;
  }
  result.text += str_cat("verify: FAILED, ", result.corrupted.size(), " corrupted record(s):\n");
  std::map<std::string, std::vector<const data::CorruptRecord*>> by_shard;
  for (const data::CorruptRecord& c : result.corrupted) by_shard[c.shard].push_back(&c);
  for (const auto& [shard, records] : by_shard) {
    if (!records.front()->problem.empty()) {
      result.text += str_cat("  ", shard, ": cannot be read, all its ", records.size(), " record(s) are lost: ",
                             records.front()->problem, "\n");
      continue;
    }
    std::string indices, ids;
    for (const data::CorruptRecord* c : records) {
      indices += (indices.empty() ? "" : ", ") + std::to_string(c->index);
      ids += (ids.empty() ? "" : ", ") + c->id;
    }
    result.text += str_cat("  ", shard, ": records [", indices, "] (ids: ", ids, ")\n");
  }
  result.text += "pack the source again (or restore the damaged shards from a good copy); training and embedding "
                 "stop at the first damaged record they read\n";
}

void verify(const data::ShardDataset& ds, const InfoOptions& options, InfoResult& result) {
  std::vector<VerifyTarget> shards;
  for (int64_t s = 0; s < ds.shard_count(); ++s)
    shards.push_back({ds.shard(s).path(), ds.shard_start(s), ds.shard(s).size(), &ds.shard(s), ""});
  verify(shards, ds.size(), options, result);
}

// --verify of a dataset that does not open (a shard truncated, with a corrupt header, missing, or
// disagreeing with the index): every shard on its own, so all the damage is listed at once.
// A dataset.json that cannot be read is still an error (there is nothing to go by).
InfoResult verify_damaged_dataset(const std::string& index_path, const InfoOptions& options) {
  const data::DatasetIndex index = data::read_dataset_index(index_path);
  InfoResult result;
  result.text = str_cat("dataset: ", index_path, " (", index.shards.size(),
                        index.shards.size() == 1 ? " shard" : " shards", ", ", index.record_count,
                        " records; damaged: not every shard can be opened)\n");
  std::vector<std::unique_ptr<data::ShardReader>> readers;
  std::vector<VerifyTarget> shards;
  int64_t start = 0;
  for (size_t s = 0; s < index.shards.size(); ++s) {
    VerifyTarget t{index.shards[s].file, start, index.shards[s].records, nullptr, ""};
    try {
      readers.push_back(data::open_indexed_shard(index, s));
      t.reader = readers.back().get();
    } catch (const Error& e) {
      t.problem = e.what();
    }
    shards.push_back(t);
    start += index.shards[s].records;
  }
  verify(shards, index.record_count, options, result);
  return result;
}

InfoResult describe_dataset(const std::string& path, bool single_shard, const InfoOptions& options) {
  std::unique_ptr<const data::ShardDataset> opened;
  try {
    opened = std::make_unique<const data::ShardDataset>(path);
  } catch (const Error&) {
    if (!options.verify || single_shard) throw;
    const fs::path index = fs::is_directory(path) ? fs::path(path) / data::kDatasetIndexName : fs::path(path);
    if (!fs::exists(index)) throw;
    return verify_damaged_dataset(index.string(), options);
  }
  const data::ShardDataset& ds = *opened;
  InfoResult result;
  std::string& t = result.text;
  const int64_t record_bytes = data::record_layout(ds.layout()).record_bytes;
  if (single_shard) {
    const data::ShardReader& r = ds.shard(0);
    t += str_cat("shard: ", path, " (rsd shard format v", r.version(), ", little-endian, records from byte ",
                 r.data_offset(), ")\n");
  } else {
    t += str_cat("dataset: ", ds.path(), " (", ds.shard_count(), ds.shard_count() == 1 ? " shard)\n" : " shards)\n");
  }
  if (ds.synthetic()) t += "SYNTHETIC: random values made by `rsd make-synthetic` for benchmarks, not imagery\n";
  t += str_cat("layout: ", ds.layout().name, "\n");
  t += str_cat("records: ", ds.size(), " of ", human_bytes(static_cast<double>(record_bytes)), " (", record_bytes,
               " bytes), ", human_bytes(static_cast<double>(record_bytes) * static_cast<double>(ds.size())),
               " in all\n");
  t += rasters_text(ds);
  t += labels_text(ds);
  t += statistics_text(ds);
  if (!single_shard) {
    t += "shards:\n";
    for (int64_t s = 0; s < ds.shard_count(); ++s)
      t += str_cat("  ", fs::path(ds.shard(s).path()).filename().string(), ": ", ds.shard(s).size(), " records\n");
    if (ds.info_json() != "{}") t += str_cat("info: ", ds.info_json(), "\n");
  }
  if (options.verify) verify(ds, options, result);
  return result;
}

InfoResult describe_source(const std::string& path, const InfoOptions& options) {
  const std::string unindexed = data::missing_index_problem(path);  // shards without their dataset.json
  RSD_CHECK(unindexed.empty(), "rsd info: ", unindexed);
  RSD_CHECK(!options.verify, "rsd info --verify: ", path, " is not a packed dataset (no ", data::kDatasetIndexName,
            " or .rsd shard); there are no checksums to verify");
  const data::Detection d = data::detect_layout(path);
  const data::Dataset ds = data::discover(path, d.layout);
  InfoResult result;
  int64_t with_problem = 0;
  for (const data::SampleRef& r : ds.samples) with_problem += r.problem.empty() ? 0 : 1;
  result.text = str_cat("source: ", path, " (not packed; `rsd pack` makes shards of it)\n", "layout: ",
                        data::layout_name(d.layout), " (", d.reason, ")\n", ds.description, "\n",
                        "samples: ", ds.samples.size(), "\n");
  if (!ds.classes.empty()) result.text += str_cat("classes: ", ds.classes.size(), " (", joined(ds.classes), ")\n");
  if (with_problem > 0) {
    result.text += str_cat("samples already known to be unusable: ", with_problem, " (the first: ",
                           std::find_if(ds.samples.begin(), ds.samples.end(),
                                        [](const data::SampleRef& r) { return !r.problem.empty(); })->problem,
                           ")\n");
  }
  return result;
}

}  // namespace

InfoResult describe_path(const std::string& path, const InfoOptions& options) {
  RSD_CHECK(fs::exists(path), "rsd info: ", path, " does not exist");
  if (fs::is_directory(path)) {
    if (fs::exists(fs::path(path) / data::kDatasetIndexName)) return describe_dataset(path, false, options);
    return describe_source(path, options);
  }
  const std::string ext = fs::path(path).extension().string();
  if (ext == ".json") return describe_dataset(path, false, options);
  if (ext == ".tif" || ext == ".tiff" || ext == ".TIF" || ext == ".TIFF") {
    RSD_CHECK(!options.verify, "rsd info --verify: ", path, " is a GeoTIFF, not a shard; there are no checksums");
    InfoResult result;
    result.text = data::format_raster_info(data::raster_info(path));
    if (!result.text.empty() && result.text.back() != '\n') result.text += "\n";
    return result;
  }
  if (ext == ".csv") return describe_source(path, options);
  RSD_CHECK(ext == ".rsd" || starts_with_shard_magic(path), "rsd info: ", path,
            " is neither a shard (.rsd), a dataset (dataset.json or its folder), a GeoTIFF nor a dataset folder");
  return describe_dataset(path, true, options);
}

}  // namespace rsd::data
