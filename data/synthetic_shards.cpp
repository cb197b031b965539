#include "data/synthetic_shards.h"

#include <nlohmann/json.hpp>
#include <random>

#include "engine/error.h"

namespace rsd::data {
namespace {

const std::vector<std::string> kS2Bands = {"B01", "B02", "B03", "B04", "B05", "B06", "B07",
                                           "B08", "B8A", "B09", "B10", "B11", "B12"};
const std::vector<std::string> kS1Bands = {"VV", "VH"};

// One random raster: values uniform in [lo, hi), all valid.
data::Raster random_raster(std::vector<std::string> bands, int size, float lo, float hi, std::mt19937_64& rng) {
  data::Raster r;
  r.bands = std::move(bands);
  r.height = r.width = size;
  const size_t n = static_cast<size_t>(size) * static_cast<size_t>(size) * r.bands.size();
  std::uniform_real_distribution<float> value(lo, hi);
  r.pixels.resize(n);
  for (float& p : r.pixels) p = value(rng);
  r.valid.assign(n, 1);
  r.source = "synthetic";
  r.source_dtype = "Float32";
  return r;
}

class SyntheticSource final : public PackSource {
 public:
  explicit SyntheticSource(const SyntheticShardsConfig& c) : c_(c) {}
  int64_t size() const override { return c_.samples; }
  std::string id(int64_t i) const override { return synthetic_id(i); }
  std::string files(int64_t) const override { return "synthetic"; }
  std::optional<data::Sample> try_load(int64_t i, std::string*) const override {
    return synthetic_sample(c_.bands, c_.size, c_.seed, i);
  }
  static std::string synthetic_id(int64_t i) {
    char id[32];
    std::snprintf(id, sizeof id, "synthetic/%06lld", static_cast<long long>(i));
    return id;
  }

 private:
  const SyntheticShardsConfig& c_;
};

}  // namespace

data::Sample synthetic_sample(int bands, int size, uint64_t seed, int64_t index) {
  RSD_CHECK(bands >= 1 && bands <= 15, "make-synthetic: --bands must be in [1, 15] (13 S2 + 2 S1), got ", bands);
  RSD_CHECK(size >= 1, "make-synthetic: --size must be positive, got ", size);
  std::seed_seq seq{seed, static_cast<uint64_t>(index), uint64_t{0x5EED5A4D}};
  std::mt19937_64 rng(seq);
  data::Sample s;
  s.id = SyntheticSource::synthetic_id(index);
  const int s2 = std::min(bands, 13);
  s.s2 = random_raster({kS2Bands.begin(), kS2Bands.begin() + s2}, size, 0.0f, 10000.0f, rng);
  if (bands > 13) s.s1 = random_raster({kS1Bands.begin(), kS1Bands.begin() + (bands - 13)}, size, -25.0f, 0.0f, rng);
  s.labels.class_index = static_cast<int32_t>(rng() % kSyntheticClasses);
  return s;
}

PackResult make_synthetic_shards(const SyntheticShardsConfig& config) {
  RSD_CHECK(config.samples >= 1, "make-synthetic: --samples must be positive, got ", config.samples);
  synthetic_sample(config.bands, config.size, config.seed, 0);  // checks the arguments before anything is made
  PackOptions options;
  options.layout_name = "synthetic";
  for (int c = 0; c < kSyntheticClasses; ++c) options.class_names.push_back("synthetic-" + std::to_string(c));
  options.synthetic = true;
  options.records_per_shard = config.records_per_shard;
  options.threads = config.threads;
  options.progress = config.progress;
  options.info_json = nlohmann::json{{"tool", "rsd make-synthetic"},
                                     {"note", "SYNTHETIC random data for benchmarks, not imagery"},
                                     {"seed", config.seed},
                                     {"bands", config.bands},
                                     {"size", config.size}}
                          .dump();
  return pack_samples(SyntheticSource(config), config.out, options);
}

}  // namespace rsd::data
