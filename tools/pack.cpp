#include "tools/pack.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <utility>

#include "data/layouts.h"
#include "data/shard.h"
#include "data/shard_dataset.h"
#include "engine/atomic_file.h"
#include "engine/error.h"
#include "tools/ordered_parallel.h"
#include "tools/progress.h"

namespace rsd::tools {
namespace {

using nlohmann::json;

constexpr int64_t kShardTargetBytes = int64_t{1} << 30;

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
      r.skipped_report = (std::filesystem::path(out_) / "skipped.json").string();
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
    int64_t per_shard = options_.records_per_shard;
    if (per_shard <= 0) per_shard = std::max<int64_t>(1, kShardTargetBytes / data::record_layout(layout).record_bytes);
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

}  // namespace rsd::tools
