// Normalization of S1/S2 rasters: conversion to physical units, clipping, per-band standardization.
//
// Every band goes through three steps, in this order, on valid pixels only:
//   1. conversion to its physical unit, by band kind (told by the band NAME, never by a count):
//      - S2 reflectance bands (B01..B12, B8A): reflectance = (DN + s2_offset) / s2_scale.
//        s2_scale is the product's QUANTIFICATION_VALUE (10000). s2_offset is the product's
//        RADIO_ADD_OFFSET (L1C) / BOA_ADD_OFFSET (L2A): 0 before processing baseline 04.00, -1000
//        for products of baseline 04.00 and later (from 25 January 2022). It is a property of the
//        SOURCE, not of the band statistics: a dataset mixing baselines passes each raster's own
//        offset. Sources already in reflectance use s2_scale = 1, s2_offset = 0.
//      - S1 bands (VV, VH, HH, HV): kept as they are when the source is in dB (the default);
//        a source flagged s1_linear holds linear power and becomes 10 log10(max(x, s1_linear_floor)).
//        The floor (1e-10, -100 dB) turns zeros and the slightly negative values that thermal noise
//        removal leaves into a finite value that clipping then pulls up to the range's low end.
//      - any other band: unchanged, never clipped.
//   2. clipping to the band's clip range (default_clip_range, stored with the statistics):
//      - S1 dB: [-50, +1]. -50 dB lies far below the IW noise-equivalent sigma0 (about -22 to -26 dB),
//        so every measured backscatter, calm water included, is kept, while the log of zeros and
//        border artefacts collapse onto -50. Above +1 dB are only strong man-made and double-bounce
//        scatterers (1.5 % of VV and 0.03 % of VH pixels in the shipped Sen1Floods11 chip, whose
//        VV reaches +25.6 dB): they saturate instead of stretching the standard deviation.
//      - S2 reflectance: [0, 1.5]. Negative values (dark water after the -1000 offset, noise) are
//        not physical; bright clouds and snow reach about 1.0 to 1.2 and are kept; saturated
//        (DN 65535 -> 6.5) and defective pixels are cut.
//   3. standardization: (value - mean) / std with the band's statistics (population std over every
//      valid pixel of the dataset, computed on converted and clipped values). A band with std 0
//      (constant over the dataset) is divided by 1, i.e. only centred.
// Invalid pixels (valid == 0, or a value that is not finite after conversion) are set to 0, the
// band mean after standardization, and stay marked invalid; they are counted, never fed silently.
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "data/sample.h"

namespace rsd::data {

enum class BandKind { s2_reflectance, s1_db, other };

// The kind of a band by its name: "B01".."B12", "B8A" -> s2_reflectance; "VV", "VH", "HH", "HV" ->
// s1_db; anything else -> other.
BandKind band_kind(const std::string& band);
const char* band_kind_name(BandKind kind);  // "reflectance", "dB", "raw": the unit after conversion

struct ClipRange {
  double lo = 0, hi = 0;
  bool operator==(const ClipRange& o) const { return lo == o.lo && hi == o.hi; }
};

// The documented defaults above: S1 [-50, 1] dB, S2 [0, 1.5], other bands the whole float range.
ClipRange default_clip_range(const std::string& band);

// How one source stores its values (see step 1 above). Per source, not per dataset.
struct SourceScaling {
  double s2_scale = 10000.0;        // DN per unit reflectance (QUANTIFICATION_VALUE)
  double s2_offset = 0.0;           // RADIO/BOA_ADD_OFFSET: -1000 for processing baseline >= 04.00
  bool s1_linear = false;           // the S1 bands hold linear power: converted to dB
  double s1_linear_floor = 1e-10;   // linear values below this are raised to it before log10
};

// Step 1 for one value of `band` (no clipping, no standardization).
double convert_value(double raw, BandKind kind, const SourceScaling& scaling);

// Statistics of one band, in its physical unit: mean and population std of the clipped values,
// the number of valid pixels, min and max of the converted values BEFORE clipping (so they show how
// much the clip range cut), and the clip range itself.
struct BandStats {
  BandKind kind = BandKind::other;
  double mean = 0, std = 1;
  int64_t count = 0;
  double min = 0, max = 0;
  ClipRange clip;
  bool operator==(const BandStats& o) const {
    return kind == o.kind && mean == o.mean && std == o.std && count == o.count && min == o.min &&
           max == o.max && clip == o.clip;
  }
};

// Per band name. Stored as JSON in shard headers, checkpoints and embedding files so that
// downstream use repeats the normalization exactly. The JSON round trip is exact (doubles are
// written with 17 significant digits).
struct BandStatistics {
  std::map<std::string, BandStats> bands;

  // The band's statistics; an rsd::Error naming the band, `context` and the bands held if absent.
  const BandStats& at(const std::string& band, const std::string& context) const;
  bool operator==(const BandStatistics& o) const { return bands == o.bands; }
  bool operator!=(const BandStatistics& o) const { return !(*this == o); }

  // {"format": "rsd.band_statistics", "version": 1, "bands": {"B02": {"unit": "reflectance",
  //  "mean": .., "std": .., "count": .., "min": .., "max": .., "clip": [lo, hi]}, ...}}
  std::string to_json() const;
  // Parses to_json's output; `origin` (a file name) is named in errors about malformed text.
  static BandStatistics from_json(const std::string& text, const std::string& origin = "");
};

// Streaming statistics over valid pixels (Welford's update in double). Accumulators filled on
// different threads or shards merge exactly as one accumulator over the union would (Chan et al.'s
// pairwise combination), up to rounding.
class StatisticsAccumulator {
 public:
  // Clip ranges come from default_clip_range unless `clip_overrides` names the band.
  explicit StatisticsAccumulator(std::map<std::string, ClipRange> clip_overrides = {});

  // Adds every valid pixel of every band of `raster` (converted with `scaling`, then clipped).
  // Returns the number of values added.
  int64_t add(const Raster& raster, const SourceScaling& scaling = {});
  // Adds one value already in the band's physical unit (clipped here).
  void add_value(const std::string& band, double value);
  void merge(const StatisticsAccumulator& other);

  // The statistics so far; an rsd::Error names any band seen with no valid pixel at all.
  BandStatistics finish() const;

 private:
  struct Moments {
    BandKind kind = BandKind::other;
    ClipRange clip;
    int64_t count = 0;
    double mean = 0, m2 = 0;   // m2: sum of squared deviations from the mean
    double min = 0, max = 0;   // of the values before clipping
  };
  Moments& moments_for(const std::string& band);
  static void push(Moments& m, double converted);

  std::map<std::string, ClipRange> clip_overrides_;
  std::map<std::string, Moments> bands_;
};

// What normalize did: invalid pixels (set to 0, still marked invalid; this includes values found
// not finite after conversion, newly marked) and values cut by the clip range.
struct NormalizeReport {
  int64_t invalid = 0;
  int64_t clipped_low = 0, clipped_high = 0;
};

// Converts, clips and standardizes every band of `raster` in place, matching bands by NAME; a band
// absent from `statistics` is an rsd::Error naming the band and the raster's source. Updates
// raster.invalid_count. Apply once: a normalized raster is in standard units, not in its source's.
NormalizeReport normalize(Raster& raster, const BandStatistics& statistics, const SourceScaling& scaling = {});

}  // namespace rsd::data
