// Valid files the fuzz targets start from: small samples and their statistics (shards, datasets),
// a tiny SSL method and its checkpoint (sidecars). Used by the targets' start-up and by
// rsd_fuzz_seeds, which writes the seed inputs of every corpus (docs/fuzzing.md).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/normalization.h"
#include "data/sample.h"
#include "data/shard_dataset.h"
#include "engine/checkpoint.h"
#include "engine/error.h"
#include "engine/optim/sgd.h"
#include "models/pretrain/run_checkpoint.h"
#include "models/ssl_method.h"

namespace rsd::fuzz {

// A raster of `bands`, h x w, values and a few invalid pixels from `seed`.
inline data::Raster fixture_raster(const std::vector<std::string>& bands, int64_t h, int64_t w, uint64_t seed,
                                   const std::string& source) {
  data::Raster r;
  r.bands = bands;
  r.height = h;
  r.width = w;
  const auto n = static_cast<size_t>(h * w * r.channels());
  r.pixels.resize(n);
  r.valid.assign(n, 1);
  for (size_t e = 0; e < n; ++e) r.pixels[e] = static_cast<float>((seed * 131 + e * 17) % 1000) - 20.0f;
  for (size_t e = seed % 5; e < n; e += 9) {
    r.valid[e] = 0;
    ++r.invalid_count;
  }
  r.geo.crs_wkt = "EPSG:32632";
  r.geo.geotransform = {500000.0, 10.0, 0.0, 5300000.0, 0.0, -10.0};
  r.geo.has_geotransform = seed % 2 == 0;
  r.source = source;
  r.source_dtype = "UInt16";
  return r;
}

// A sample with S1 (VV, VH) and S2 (B02, B03, B04), 4 x 4; a label map when `label_map`.
inline data::Sample fixture_sample(const std::string& id, uint64_t seed, bool label_map = false) {
  data::Sample s;
  s.id = id;
  s.s1 = fixture_raster({"VV", "VH"}, 4, 4, seed, "s1/" + id + ".tif");
  s.s2 = fixture_raster({"B02", "B03", "B04"}, 4, 4, seed + 1, "s2/" + id + ".tif");
  if (label_map) s.labels.map = fixture_raster({"label"}, 4, 4, seed + 2, "label/" + id + ".tif");
  s.labels.names = {"forest", "river"};
  s.labels.class_index = static_cast<int32_t>(seed % 3) - 1;
  return s;
}

inline std::string fixture_statistics_json() {
  data::BandStatistics stats;
  for (const char* band : {"VV", "VH", "B02", "B03", "B04"}) {
    data::BandStats s;
    s.kind = data::band_kind(band);
    s.mean = 0.25;
    s.std = 0.5;
    s.count = 48;
    s.min = -1;
    s.max = 2;
    s.clip = data::default_clip_range(band);
    stats.bands[band] = s;
  }
  return stats.to_json();
}

// A packed dataset of `count` samples, two per shard, in `folder` (which must not hold one).
inline data::DatasetWriter::Result write_fixture_dataset(const std::string& folder, int count) {
  data::ShardLayout layout = data::layout_of(fixture_sample("a", 0), "fuzz");
  layout.class_names = {"forest", "river"};
  data::DatasetWriter writer(folder, layout, 2);
  writer.set_statistics(fixture_statistics_json());
  writer.set_info("{\"source\": \"rsd_fuzz fixture\"}");
  for (int i = 0; i < count; ++i) writer.append(fixture_sample("place/" + std::to_string(i), static_cast<uint64_t>(i)));
  return writer.finish();
}

// An SSL method of two parameters and a buffer, enough for restore_run_checkpoint.
class TinyMethod final : public models::SslMethod {
 public:
  TinyMethod() {
    params_.add("online.encoder.conv1.weight", Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 1, 1, 3}, DType::f32),
                false);
    params_.add("online.projector.fc1.bias", Tensor::from_vector({0.5, -0.5, 0.25, 0}, {4}, DType::f32), true);
    params_.add_buffer("online.encoder.bn1.running_mean", Tensor::from_vector({0.1, 0.2}, {2}, DType::f32));
  }
  const char* name() const override { return "byol"; }
  models::SslOutput forward(const std::vector<Tensor>&) override { fail("TinyMethod::forward is not used"); }
};

// The method, its optimizer and a checkpoint of them at `step` in `folder` (make_run_checkpoint, as
// `rsd pretrain` writes it).
struct TinyCheckpoint {
  TinyMethod method;
  std::unique_ptr<SGD> optimizer;
  pretrain::PretrainConfig config;  // of the run that wrote it (and resumes it)
  pretrain::PretrainData data;
  std::string weights;  // <folder>/step-<step>.safetensors
  std::string sidecar;  // <folder>/step-<step>.json

  TinyCheckpoint(const std::string& folder, int64_t step) {
    optimizer = std::make_unique<SGD>(method.params());
    config.data.path = "data/samples/terramind-s1s2";
    data.description = "rsd_fuzz fixture";
    data.view_channels = {3, 3};
    data.patch = 8;
    data.statistics = data::BandStatistics::from_json(fixture_statistics_json());
    pretrain::RunCounters counters;
    counters.step = step;
    counters.skipped_total = 2;
    CheckpointDir dir(folder, 1);
    weights = dir.save(pretrain::make_run_checkpoint(method, *optimizer, counters, config, data));
    sidecar = checkpoint_sidecar_path(weights);
  }
};

}  // namespace rsd::fuzz
