// `rsd info [--verify] PATH`: what PATH holds.
//   - a shard (.rsd), a dataset.json or a folder holding one: layout, bands, sizes, record and
//     shard counts, invalid-pixel counts and the per-band statistics; with verify, every record's
//     CRC32C is checked and each corrupted record is named (shard file, index, id); a shard of a
//     dataset that cannot be opened (truncated, a corrupt header, missing, disagreeing with
//     dataset.json) is reported with the reason and all its records counted as corrupted, so one
//     run lists all the damage (a dataset.json that cannot be read is an error);
//   - a folder of GeoTIFFs or a CSV manifest: the detected layout and the number of samples;
//   - a single GeoTIFF: its size, bands, types, nodata and georeferencing (needs GDAL).
#pragma once
#include <string>
#include <vector>

#include "data/shard_dataset.h"

namespace rsd::data {

struct InfoOptions {
  bool verify = false;
  bool progress = true;  // a progress bar while verifying
};

struct InfoResult {
  std::string text;                          // the summary, several lines
  bool verified = false;                     // checksums were checked
  std::vector<data::CorruptRecord> corrupted;
  bool ok() const { return corrupted.empty(); }
};

// Throws rsd::Error naming PATH when it is missing, unreadable or corrupt (a bad header, a
// truncated shard); with verify, the damage of a dataset's shards and records is reported in the
// result, not thrown.
InfoResult describe_path(const std::string& path, const InfoOptions& options = {});

}  // namespace rsd::data
