// Helpers of the shard and pack tests: a scratch folder removed afterwards, and samples with known,
// awkward contents (NaN, -0.0, denormals, invalid pixels, odd sizes, CRS and geotransform).
#pragma once
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "data/sample.h"

namespace rsd::test {

struct ScratchDir {
  std::filesystem::path path;
  ScratchDir() {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           ("rsd-shards-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
};

inline data::Raster make_raster(const std::vector<std::string>& bands, int64_t h, int64_t w, std::mt19937_64& rng,
                                const std::string& source) {
  data::Raster r;
  r.bands = bands;
  r.height = h;
  r.width = w;
  const size_t n = static_cast<size_t>(h * w * r.channels());
  r.pixels.resize(n);
  r.valid.assign(n, 1);
  std::uniform_real_distribution<float> value(-30.0f, 5000.0f);
  for (float& p : r.pixels) p = value(rng);
  // Awkward values, kept bit-exactly; a few invalid pixels.
  r.pixels[0] = -0.0f;
  if (n > 2) r.pixels[1] = std::numeric_limits<float>::denorm_min();
  if (n > 3) r.pixels[2] = std::numeric_limits<float>::quiet_NaN();
  for (size_t e = 3; e < n; e += 7 + rng() % 5) {
    r.valid[e] = 0;
    ++r.invalid_count;
  }
  r.geo.crs_wkt = "PROJCS[\"WGS 84 / UTM zone 32N\",GEOGCS[\"WGS 84\"],UNIT[\"metre\",1]]";
  r.geo.geotransform = {500000.1 + 0.2, 10.0, 0.0, 5300000.0 / 3.0, 0.0, -10.0};
  r.geo.has_geotransform = true;
  r.source = source;
  r.source_dtype = "UInt16";
  return r;
}

// A paired sample: s1 (VV, VH), s2 (13 bands), a label map, multi-labels and a class index.
inline data::Sample make_sample(const std::string& id, uint64_t seed, int64_t h, int64_t w) {
  std::mt19937_64 rng(seed);
  data::Sample s;
  s.id = id;
  s.s1 = make_raster({"VV", "VH"}, h, w, rng, "s1/" + id + ".tif");
  s.s2 = make_raster({"B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12"}, h,
                     w, rng, "s2/" + id + ".tif");
  s.s2->geo.has_geotransform = seed % 2 == 0;  // some rasters without a geotransform
  s.s2->geo.crs_wkt = seed % 3 == 0 ? "" : s.s2->geo.crs_wkt;
  data::Raster label = make_raster({"label"}, h, w, rng, "label/" + id + ".tif");
  for (float& p : label.pixels) p = static_cast<float>(rng() % 5) - 1.0f;  // -1 = ignore
  s.labels.map = label;
  s.labels.names = {"class \"" + std::to_string(seed % 3) + "\"", "unicodé"};
  s.labels.class_index = static_cast<int32_t>(seed % 4) - 1;
  return s;
}

}  // namespace rsd::test
