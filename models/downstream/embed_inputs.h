// What `rsd embed` reads: a dataset folder (any layout data/layouts.h detects), a packed shard
// dataset (a dataset.json, a folder holding one, or one .rsd shard), or a single GeoTIFF. Each is
// seen as a list of chips that load one at a time, with what index.csv says about each.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/sample.h"
#include "engine/output_preflight.h"

namespace rsd::downstream {

struct ChipList {
  std::string description;  // "dataset folder (EuroSAT-MS: ...)", ...
  int64_t size = 0;
  std::function<data::Sample(int64_t)> load;              // reads chip i (raw values, not normalized)
  std::function<std::string(int64_t)> source;             // the file(s) chip i comes from
  std::function<std::string(const data::Sample&)> label;  // its label, "" when unknown
};

// The band names of a single GeoTIFF: `given` when not empty (its size must equal the band count),
// else its band descriptions when every one names an S1/S2 band ("B1" read as "B01"); otherwise an rsd::Error naming
// the file and asking for --raster-bands.
// Duplicate names in it (or an empty one) are an error naming the band, as are duplicate band
// descriptions.
std::vector<std::string> geotiff_band_names(const std::string& path, const std::vector<std::string>& given);

// --raster-bands itself, before any file is read: an rsd::Error naming a band given twice or an
// empty name.
void check_raster_band_names(const std::vector<std::string>& given);

// What embedding `input` must not write into or over (output_preflight.h): a dataset folder (or
// the folder of a dataset.json) as a whole, a single GeoTIFF or shard file.
std::vector<ProtectedInput> protected_inputs(const std::string& input);

// Opens `path`. `raster_bands` names the bands of a single GeoTIFF whose band descriptions do not
// name S1/S2 bands (an error names the file and asks for them when neither is available).
ChipList open_chips(const std::string& path, const std::vector<std::string>& raster_bands);

}  // namespace rsd::downstream
