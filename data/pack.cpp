#include "data/pack.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <utility>

#include "data/layouts.h"
#include "data/shard.h"
#include "data/shard_dataset.h"
#include "engine/atomic_file.h"
#include "engine/error.h"
#include "engine/ordered_parallel.h"
#include "engine/output_preflight.h"
#include "engine/progress.h"

namespace rsd::data {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr int64_t kShardTargetBytes = int64_t{1} << 30;
constexpr const char* kSkippedReportName = "skipped.json";

int64_t records_per_shard(const PackOptions& options, int64_t record_bytes) {
  if (options.records_per_shard > 0) return options.records_per_shard;
  return std::max<int64_t>(1, kShardTargetBytes / record_bytes);
}

// OUT itself when it exists, else its nearest existing ancestor (where it would be made).
fs::path existing_folder_of(const std::string& out) {
  fs::path p = fs::absolute(fs::path(out)).lexically_normal();
  std::error_code ec;
  while (!fs::exists(p, ec) && p.has_relative_path()) p = p.parent_path();
  return p;
}

// OUT can be made and written: it is a folder (or absent, and its nearest existing ancestor is a
// folder) in which a file can be created; a probe file is made and removed at once, which is
// what counts (a read-only mount, permissions, root on a read-only file system).
void check_out_writable(const std::string& out) {
  std::error_code ec;
  RSD_CHECK(!fs::exists(out, ec) || fs::is_directory(out, ec), "rsd pack: OUT ", out,
            " is a file; give a folder (it is made when missing)");
  const fs::path folder = existing_folder_of(out);
  RSD_CHECK(fs::is_directory(folder, ec), "rsd pack: cannot make OUT ", out, ": ", folder.string(),
            " is a file, not a folder");
  const std::string probe = (folder / str_cat(".rsd-pack-probe.", ::getpid())).string();
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  RSD_CHECK(fd >= 0, "rsd pack: cannot write OUT ", out, ": no file can be created in ", folder.string(), " (",
            std::strerror(errno), "); choose another OUT or make that folder writable");
  ::close(fd);
  ::unlink(probe.c_str());
}

// Before any sample is read: OUT is writable, and what a killed pack left there is removed (a
// folder that holds a dataset, or that a live pack writes, is refused: data/shard_dataset.h).
void preflight_out(const std::string& out, bool progress) {
  RSD_CHECK(!out.empty(), "rsd pack: OUT is empty; give the output folder");
  check_out_writable(out);
  const data::FolderCleanup cleanup = data::prepare_dataset_folder(out, {kSkippedReportName});
  if (!cleanup.empty() && progress) std::printf("%s\n", cleanup.describe().c_str());
}

// The free space for the shards, from the first sample that loads (a bad first sample is left
// to the pack itself to report). The estimate: every record, one shard's records a second time
// (a shard is assembled from its records' temporary file), the headers.
void check_space(const PackSource& source, const std::string& out, const PackOptions& options) {
  std::optional<data::Sample> first;
  for (int64_t i = 0; i < source.size() && i < 16 && !first; ++i) {
    std::string error;
    first = source.try_load(i, &error);
    if (!options.skip_bad) break;
  }
  if (!first) return;
  data::ShardLayout layout;
  try {
    layout = data::layout_of(*first, options.layout_name);
  } catch (const Error&) {
    return;  // the pack reports it, naming the sample
  }
  const int64_t record_bytes = data::record_layout(layout).record_bytes;
  const int64_t n = source.size();
  const int64_t per_shard = records_per_shard(options, record_bytes);
  const auto needed = static_cast<uint64_t>(data::estimated_dataset_bytes(*first, layout, n, per_shard) +
                                            std::min(per_shard, n) * record_bytes);
  const fs::path folder = existing_folder_of(out);
  const uint64_t available = free_bytes_at(folder.string());
  RSD_CHECK(available >= needed, "rsd pack: not enough free space for OUT ", out, ": ", n, " samples of ", record_bytes,
            " bytes each (the size of sample \"", first->id, "\") need about ", byte_size_text(needed),
            " (the shards, plus one shard of ", std::min(per_shard, n),
            " records a second time while it is assembled), and the file system of ", folder.string(), " has ",
            byte_size_text(available), " free; free some space or choose an OUT on another disk",
            per_shard > 1 ? " (a smaller --records-per-shard lowers the second copy)" : "");
}

// OUT must not be SRC, inside SRC (a later discovery of SRC would scan the shards with the
// source files) or hold SRC (removing OUT would remove the source).
void check_src_out(const std::string& src, const std::string& out) {
  std::error_code ec;
  const fs::path s = fs::weakly_canonical(fs::absolute(src), ec);
  const fs::path o = fs::weakly_canonical(fs::absolute(out), ec);
  auto inside = [](const fs::path& child, const fs::path& parent) {
    const fs::path rel = child.lexically_relative(parent);
    return !rel.empty() && *rel.begin() != "..";
  };
  RSD_CHECK(s != o, "rsd pack: OUT ", out, " is SRC ", src, "; give another folder for the shards");
  if (!fs::is_directory(s, ec)) return;  // a CSV manifest names its files wherever they are
  RSD_CHECK(!inside(o, s), "rsd pack: OUT ", out, " is inside SRC ", src,
            " (the shards would be written among the source files, and found by the next discovery of SRC); "
            "choose an OUT outside SRC");
  RSD_CHECK(!inside(s, o), "rsd pack: SRC ", src, " is inside OUT ", out,
            " (packing would write the dataset around its source); choose an OUT that does not hold SRC");
}

// One sample as a worker leaves it: loaded (with its statistics) or the reason it could not be.
struct Loaded {
  std::optional<data::Sample> sample;
  std::string error;
  data::StatisticsAccumulator statistics;
};

Loaded load(const PackSource& source, int64_t i) {
  Loaded l;
  l.sample = source.try_load(i, &l.error);
  if (l.sample) {
    const data::SourceScaling scaling = source.scaling(i);
    if (l.sample->s1) l.statistics.add(*l.sample->s1, scaling);
    if (l.sample->s2) l.statistics.add(*l.sample->s2, scaling);
  }
  return l;
}

std::string skipped_json(const std::vector<SkippedSample>& skipped) {
  json list = json::array();
  for (const SkippedSample& s : skipped) list.push_back({{"id", s.id}, {"file", s.file}, {"error", s.error}});
  return json{{"skipped", skipped.size()}, {"samples", list}}.dump(2) + "\n";
}

// The pack itself: the writer is made with the layout of the first good sample.
class Packer {
 public:
  Packer(const PackSource& source, std::string out, const PackOptions& options)
      : source_(source), out_(std::move(out)), options_(options) {}

  void consume(int64_t i, Loaded&& l) {
    if (!l.sample) return bad(i, l.error);
    if (!writer_) start(*l.sample);
    try {
      data::check_sample_fits(*l.sample, writer_->layout());
    } catch (const Error& e) {
      return bad(i, e.what());
    }
    writer_->append(*l.sample);
    statistics_.merge(l.statistics);
  }

  PackResult finish() {
    if (!writer_) {
      fail("nothing to pack into ", out_, ": ", source_.size() == 0 ? "the source has no samples"
                                                                     : str_cat("all ", skipped_.size(),
                                                                               " samples are bad; the first: ",
                                                                               skipped_.front().error));
    }
    PackResult r;
    r.statistics = statistics_.finish();
    writer_->set_statistics(r.statistics.to_json());
    json info = json::parse(options_.info_json);
    if (!info.contains("tool")) info["tool"] = "rsd pack";
    info["skipped"] = skipped_.size();
    writer_->set_info(info.dump());
    if (options_.skip_bad) {
      r.skipped_report = (std::filesystem::path(out_) / kSkippedReportName).string();
      write_file_atomically(r.skipped_report, skipped_json(skipped_));
    }
    try {
      const data::DatasetWriter::Result w = writer_->finish();
      r.index_path = w.index_path;
      r.shards = w.shards;
    } catch (...) {
      if (!r.skipped_report.empty()) std::remove(r.skipped_report.c_str());
      throw;
    }
    r.packed = writer_->size();
    r.record_bytes = data::record_layout(writer_->layout()).record_bytes;
    r.skipped = std::move(skipped_);
    return r;
  }

  int64_t packed() const { return writer_ ? writer_->size() : 0; }
  int64_t skipped() const { return static_cast<int64_t>(skipped_.size()); }

 private:
  void start(const data::Sample& first) {
    data::ShardLayout layout = data::layout_of(first, options_.layout_name);
    layout.class_names = options_.class_names;
    layout.synthetic = options_.synthetic;
    const int64_t per_shard = records_per_shard(options_, data::record_layout(layout).record_bytes);
    writer_ = std::make_unique<data::DatasetWriter>(out_, layout, per_shard);
  }

  void bad(int64_t i, const std::string& error) {
    if (!options_.skip_bad) fail(error, " (sample \"", source_.id(i), "\"; --skip-bad skips bad samples)");
    skipped_.push_back({source_.id(i), source_.files(i), error});
  }

  const PackSource& source_;
  std::string out_;
  const PackOptions& options_;
  std::unique_ptr<data::DatasetWriter> writer_;
  data::StatisticsAccumulator statistics_;
  std::vector<SkippedSample> skipped_;
};

// The samples of a discovered dataset (data/layouts.h).
class LayoutSource final : public PackSource {
 public:
  explicit LayoutSource(const data::Dataset& dataset) : dataset_(dataset) {}
  int64_t size() const override { return static_cast<int64_t>(dataset_.samples.size()); }
  std::string id(int64_t i) const override { return ref(i).id; }
  std::string files(int64_t i) const override {
    const data::SampleRef& r = ref(i);
    std::string out;
    auto add = [&](const std::string& path) { out += (out.empty() ? "" : ", ") + path; };
    for (const data::RasterFile& f : r.s1) add(f.path);
    for (const data::RasterFile& f : r.s2) add(f.path);
    if (r.label.kind == data::LabelKind::map) add(r.label.map.path);
    return out;
  }
  std::optional<data::Sample> try_load(int64_t i, std::string* error) const override {
    return data::try_load_sample(ref(i), error);
  }

 private:
  const data::SampleRef& ref(int64_t i) const { return dataset_.samples.at(static_cast<size_t>(i)); }
  const data::Dataset& dataset_;
};

data::S2Product parse_s2_level(const std::string& level) {
  std::string l = level;
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (l.empty()) return data::S2Product::automatic;
  if (l == "L1C") return data::S2Product::l1c;
  if (l == "L2A") return data::S2Product::l2a;
  fail("--s2-level must be L1C or L2A, got \"", level, "\"");
}

}  // namespace

PackResult pack_samples(const PackSource& source, const std::string& out, const PackOptions& options) {
  RSD_CHECK(options.records_per_shard >= 0, "--records-per-shard must be positive, got ", options.records_per_shard);
  RSD_CHECK(options.threads >= 1, "--threads must be at least 1, got ", options.threads);
  preflight_out(out, options.progress);
  check_space(source, out, options);
  Packer packer(source, out, options);
  std::optional<ProgressBar> bar;
  if (options.progress) bar.emplace("pack", source.size());
  auto status = [&] { return str_cat(packer.packed(), " packed, ", packer.skipped(), " skipped"); };
  ordered_parallel<Loaded>(
      source.size(), options.threads, 4 * static_cast<int64_t>(options.threads),
      [&](int64_t i) { return load(source, i); },
      [&](int64_t i, Loaded&& l) {
        packer.consume(i, std::move(l));
        if (bar) bar->update(i + 1, status());
      });
  if (bar) bar->finish(status());
  return packer.finish();
}

PackResult pack_dataset(const PackCommand& command) {
#if !RSD_HAVE_GDAL
  fail("rsd pack reads GeoTIFFs and needs a build with GDAL; this one has none (install libgdal-dev and rebuild, "
       "or pack on a machine with GDAL: shards made there are read, verified and trained on here)");
#endif
  // Before SRC is even listed: where the shards go.
  check_src_out(command.src, command.out);
  preflight_out(command.out, command.progress);
  data::LayoutOptions layout_options;
  layout_options.s2_product = parse_s2_level(command.s2_level);
  const data::Dataset dataset = command.layout.empty()
                                    ? data::discover(command.src, layout_options)
                                    : data::discover(command.src, data::parse_layout(command.layout), layout_options);
  if (command.progress) std::printf("%s\n", dataset.description.c_str());
  PackOptions options;
  options.layout_name = data::layout_name(dataset.layout);
  options.class_names = dataset.classes;
  options.records_per_shard = command.records_per_shard;
  options.skip_bad = command.skip_bad;
  options.threads = command.threads;
  options.progress = command.progress;
  options.info_json = json{{"source", command.src},
                           {"description", dataset.description},
                           {"s2_level", command.s2_level.empty() ? "auto" : command.s2_level}}
                          .dump();
  return pack_samples(LayoutSource(dataset), command.out, options);
}

}  // namespace rsd::data
