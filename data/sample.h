// The in-memory form of one place: what readers produce, normalization and views transform,
// shards store and the loader batches. Pixels are float32, interleaved (H, W, C) like the engine's
// NHWC activations; band names are explicit so a 12-band L2A source and a 13-band L1C source are
// never confused, and nothing is guessed from a band count.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rsd::data {

// Georeferencing of a raster as GDAL gives it: the CRS as WKT and the affine geotransform
// (x0, dx, rx, y0, ry, dy). has_geotransform is false for rasters without one.
struct GeoInfo {
  std::string crs_wkt;
  std::array<double, 6> geotransform{0, 1, 0, 0, 0, 1};
  bool has_geotransform = false;
};

// One sensor's image of one place, on one pixel grid.
struct Raster {
  std::vector<std::string> bands;  // "B02", "B8A", "VV", ... one per channel, in channel order
  int64_t height = 0, width = 0;
  std::vector<float> pixels;       // (height, width, bands) interleaved
  std::vector<uint8_t> valid;      // (height, width, bands): 0 where the source had nodata or NaN
  int64_t invalid_count = 0;       // number of zeros in `valid` (counted, never fed silently)
  GeoInfo geo;
  std::string source;              // the file(s) it was read from, for error messages
  std::string source_dtype;        // GDAL's name of the stored type: "UInt16", "Float32", ...

  int64_t channels() const { return static_cast<int64_t>(bands.size()); }
  float at(int64_t y, int64_t x, int64_t c) const { return pixels[static_cast<size_t>((y * width + x) * channels() + c)]; }
};

// A class map (semantic segmentation) or a set of class names (multi-label classification).
struct Labels {
  std::optional<Raster> map;        // one band, class ids as float; -1 or the layout's ignore value
  std::vector<std::string> names;   // e.g. BigEarthNet's multi-labels, EuroSAT's class
  int32_t class_index = -1;         // single-label datasets: index into the layout's class list
};

struct Sample {
  std::string id;                   // unique within a dataset: "EuroSAT/train/Forest/Forest_12"
  std::optional<Raster> s1;         // Sentinel-1: VV, VH in dB
  std::optional<Raster> s2;         // Sentinel-2: reflectance bands
  Labels labels;
};

}  // namespace rsd::data
