#include "models/pretrain/pretrain_data.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/layout_source.h"
#include "data/layouts.h"
#include "data/repeat_source.h"
#include "data/shard_source.h"
#include "engine/copy.h"
#include "engine/ops/convert.h"
#include "engine/progress.h"

namespace rsd::pretrain {

namespace fs = std::filesystem;

namespace {

bool is_shard_dataset(const std::string& path) {
  const fs::path p(path);
  if (fs::is_directory(p)) return fs::exists(p / "dataset.json");
  return p.extension() == ".rsd" || p.filename() == "dataset.json";
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  RSD_CHECK(in.good(), "cannot read the statistics file ", path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Per-band statistics over every valid pixel of at most `cap` samples spread evenly over the set.
data::BandStatistics compute_statistics(const data::SampleSource& source, int64_t cap, bool progress) {
  const int64_t n = source.size(), take = std::min(n, cap);
  data::StatisticsAccumulator acc;
  ProgressBar bar("statistics", take);
  data::Sample s;
  for (int64_t k = 0; k < take; ++k) {
    source.read(k * n / take, s);
    if (s.s1) acc.add(*s.s1);
    if (s.s2) acc.add(*s.s2);
    if (progress) bar.update(k + 1, "");
  }
  if (progress) bar.finish(str_cat(take, " samples"));
  return acc.finish();
}

data::ViewSpec view_spec(const PretrainConfig& c) {
  data::ViewSpec spec;
  switch (c.method) {
    case PretrainMethod::byol: {
      const bool sar = c.byol.modality == "ms+sar";
      spec = c.byol.view_mode == "three-channel" ? data::ViewSpec::byol_three(sar) : data::ViewSpec::byol_single(sar);
      break;
    }
    case PretrainMethod::dual_contrastive: spec = data::ViewSpec::dual_encoder(); break;
    case PretrainMethod::simclr: spec = data::ViewSpec::simclr_ms(); break;
  }
  spec.geometric.out_height = spec.geometric.out_width = c.data.patch_size;
  return spec;
}

// Which channels each view has, checked on the first sample: the bands a method needs must exist.
void describe_views(PretrainData& d, const PretrainConfig& c, const data::Sample& first) {
  const std::string where = str_cat(c.data.path, " (sample '", first.id, "')");
  const char* method = pretrain_method_name(c.method);
  auto bands_of = [&](const std::optional<data::Raster>& r, const char* sensor) {
    RSD_CHECK(r.has_value(), method, " needs ", sensor, " images, and ", where, " has none; use a dataset with ",
              sensor, (c.method == PretrainMethod::byol ? " or set byol.modality = \"ms\"" : ""));
    return r->bands;
  };
  switch (c.method) {
    case PretrainMethod::byol: {
      bands_of(first.s2, "S2");
      if (d.spec.bands.include_sar) bands_of(first.s1, "S1");
      const int64_t k = d.spec.bands.mode == data::BandMode::three ? 3 : 1;
      d.view_channels = {k, k};
      d.view_bands = {{}, {}};
      for (const std::string& b : data::rs_byol_pool(d.spec.bands.include_sar)) {
        const bool found = (first.s2 && std::count(first.s2->bands.begin(), first.s2->bands.end(), b) > 0) ||
                           (first.s1 && std::count(first.s1->bands.begin(), first.s1->bands.end(), b) > 0);
        RSD_CHECK(found, "RS-BYOL samples its bands from ", b, " and the rest of its pool, but ", where,
                  " has no band ", b);
      }
      break;
    }
    case PretrainMethod::dual_contrastive:
      d.view_bands = {bands_of(first.s1, "S1"), bands_of(first.s2, "S2")};
      d.view_channels = {static_cast<int64_t>(d.view_bands[0].size()), static_cast<int64_t>(d.view_bands[1].size())};
      break;
    case PretrainMethod::simclr: {
      std::vector<std::string> b = bands_of(first.s2, "S2");
      d.view_bands = {b, b};
      d.view_channels = {static_cast<int64_t>(b.size()), static_cast<int64_t>(b.size())};
      break;
    }
  }
  const data::Raster& r = first.s2 ? *first.s2 : *first.s1;
  RSD_CHECK(c.data.patch_size <= std::min(r.height, r.width), "data.patch_size = ", c.data.patch_size,
            " is larger than the images of ", where, " (", r.height, " x ", r.width, "); set a smaller patch_size");
}

}  // namespace

PretrainData open_pretrain_data(const PretrainConfig& config) {
  const DataConfig& dc = config.data;
  PretrainData d;
  std::shared_ptr<const data::SampleSource> base;
  std::string stats_json;
  if (is_shard_dataset(dc.path)) {
    auto shards = std::make_shared<data::ShardSource>(dc.path);
    stats_json = shards->dataset().statistics_json();
    d.description = str_cat("shards ", dc.path, ": ", shards->size(), " samples");
    base = shards;
  } else {
    data::Dataset ds = dc.layout == "auto" ? data::discover(dc.path) : data::discover(dc.path, data::parse_layout(dc.layout));
    RSD_CHECK(!ds.samples.empty(), "no samples found in ", dc.path);
    d.description = ds.description;
    base = std::make_shared<data::LayoutSource>(std::move(ds));
  }
  d.distinct_samples = base->size();
  if (!dc.statistics.empty()) {
    d.statistics = data::BandStatistics::from_json(read_text(dc.statistics), dc.statistics);
    d.statistics_origin = dc.statistics;
  } else if (!stats_json.empty() && stats_json != "null") {
    d.statistics = data::BandStatistics::from_json(stats_json, dc.path);
    d.statistics_origin = str_cat(dc.path, " (stored at packing)");
  } else {
    constexpr int64_t kStatisticsCap = 2000;
    constexpr int64_t kWorthABar = 100;  // a handful of samples takes well under a second
    d.statistics = compute_statistics(*base, kStatisticsCap, config.log.progress && base->size() > kWorthABar);
    d.statistics_origin = str_cat("computed over ", std::min(base->size(), kStatisticsCap), " samples of ", dc.path);
  }
  d.spec = view_spec(config);
  d.patch = dc.patch_size;
  data::Sample first;
  base->read(0, first);
  describe_views(d, config, first);
  d.source = dc.repeat > 1 ? std::make_shared<data::RepeatSource>(base, dc.repeat) : base;
  return d;
}

data::SampleTransform pretrain_transform(const PretrainData& d) {
  const data::BandStatistics stats = d.statistics;
  const data::ViewSpec spec = d.spec;
  const std::vector<int64_t> channels = d.view_channels;
  const int64_t pixels = d.patch * d.patch;
  return [stats, spec, channels, pixels](const data::Sample& sample, uint64_t seed, uint64_t index, float* out) {
    data::Sample s = sample;
    if (s.s1) data::normalize(*s.s1, stats);
    if (s.s2) data::normalize(*s.s2, stats);
    const std::vector<data::Raster> views = data::make_views(s, spec, seed, index);
    for (size_t k = 0; k < views.size(); ++k) {
      const int64_t n = pixels * channels[k];
      RSD_CHECK(static_cast<int64_t>(views[k].pixels.size()) == n, "sample '", s.id, "': view ", k, " has ",
                views[k].pixels.size(), " values (", views[k].height, " x ", views[k].width, " x ",
                views[k].channels(), "), expected ", n, "; do all samples have the same bands?");
      std::memcpy(out, views[k].pixels.data(), static_cast<size_t>(n) * sizeof(float));
      out += n;
    }
  };
}

data::LoaderOptions pretrain_loader_options(const PretrainConfig& config, const PretrainData& d, Device device) {
  data::LoaderOptions o;
  int64_t total = 0;
  for (int64_t c : d.view_channels) total += c * d.patch * d.patch;
  o.batch_size = config.train.batch_size;
  o.sample_shape = {1, 1, total};
  o.workers = config.data.workers;
  o.prefetch = config.data.prefetch;
  o.seed = config.seed;
  o.shuffle = true;
  o.drop_last = true;  // batch norm and InfoNCE want full batches of one size
  o.device = device;
  o.labels = false;
  return o;
}

std::vector<Tensor> split_views(const Tensor& images, const PretrainData& d, DType dtype) {
  const int64_t n = images.dim(0);
  const Tensor rows = images.view({n, images.numel() / n});
  std::vector<Tensor> views;
  int64_t begin = 0;
  for (int64_t c : d.view_channels) {
    const int64_t width = c * d.patch * d.patch;
    Tensor v = copy_columns(rows, begin, begin + width).view({n, d.patch, d.patch, c});
    views.push_back(cast(v, dtype));
    begin += width;
  }
  return views;
}

}  // namespace rsd::pretrain
