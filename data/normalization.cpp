#include "data/normalization.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>

#include "data/raster_check.h"
#include "data/shard_header.h"
#include "engine/error.h"

namespace rsd::data {

namespace {

constexpr const char* kStatisticsFormat = "rsd.band_statistics";
constexpr int kStatisticsVersion = 1;

bool is_s2_band(const std::string& b) {
  static const char* const kNames[] = {"B01", "B02", "B03", "B04", "B05", "B06", "B07",
                                       "B08", "B8A", "B09", "B10", "B11", "B12"};
  return std::find_if(std::begin(kNames), std::end(kNames), [&](const char* n) { return b == n; }) != std::end(kNames);
}

BandKind kind_from_name(const std::string& unit, const std::string& band, const std::string& origin) {
  for (BandKind k : {BandKind::s2_reflectance, BandKind::s1_db, BandKind::other})
    if (unit == band_kind_name(k)) return k;
  fail("BandStatistics::from_json", origin.empty() ? "" : " (" + origin + ")", ": band ", band, " has unit '", unit,
       "', expected reflectance, dB or raw");
}

// The standardization divisor: 1 for a band constant over the dataset (only centred then).
double divisor(const BandStats& s) { return s.std > 0 ? s.std : 1.0; }

}  // namespace

BandKind band_kind(const std::string& band) {
  if (is_s2_band(band)) return BandKind::s2_reflectance;
  if (band == "VV" || band == "VH" || band == "HH" || band == "HV") return BandKind::s1_db;
  return BandKind::other;
}

const char* band_kind_name(BandKind kind) {
  switch (kind) {
    case BandKind::s2_reflectance: return "reflectance";
    case BandKind::s1_db: return "dB";
    default: return "raw";
  }
}

ClipRange default_clip_range(const std::string& band) {
  switch (band_kind(band)) {
    case BandKind::s2_reflectance: return {0.0, 1.5};
    case BandKind::s1_db: return {-50.0, 1.0};
    default: {
      const double big = std::numeric_limits<float>::max();
      return {-big, big};
    }
  }
}

double convert_value(double raw, BandKind kind, const SourceScaling& scaling) {
  switch (kind) {
    case BandKind::s2_reflectance: return (raw + scaling.s2_offset) / scaling.s2_scale;
    case BandKind::s1_db: return scaling.s1_linear ? 10.0 * std::log10(std::max(raw, scaling.s1_linear_floor)) : raw;
    default: return raw;
  }
}

// ---- BandStatistics ----

const BandStats& BandStatistics::at(const std::string& band, const std::string& context) const {
  auto it = bands.find(band);
  if (it == bands.end()) {
    std::string held;
    for (const auto& [name, stats] : bands) held += (held.empty() ? "" : ", ") + name;
    fail(context, ": band ", band, " has no statistics (the statistics hold: ", held.empty() ? "none" : held, ")");
  }
  return it->second;
}

std::string BandStatistics::to_json() const {
  nlohmann::json j;
  j["format"] = kStatisticsFormat;
  j["version"] = kStatisticsVersion;
  j["bands"] = nlohmann::json::object();
  for (const auto& [name, s] : bands)
    j["bands"][name] = {{"unit", band_kind_name(s.kind)}, {"mean", s.mean}, {"std", s.std}, {"count", s.count},
                        {"min", s.min}, {"max", s.max}, {"clip", {s.clip.lo, s.clip.hi}}};
  return j.dump(2);
}

namespace {

// The statistics in parsed JSON `j`; `where` names the file in errors, `origin` the file alone.
BandStatistics statistics_from(const nlohmann::json& j, const std::string& where, const std::string& origin) {
  RSD_CHECK(j.is_object() && j.value("format", std::string()) == kStatisticsFormat, where,
            ": not band statistics (no \"format\": \"", kStatisticsFormat, "\")");
  RSD_CHECK(j.contains("version"), where, ": no \"version\"");
  const int64_t version = json_integer(j, "version", 0, INT64_MAX, "", where);
  RSD_CHECK(version == kStatisticsVersion, where, ": unsupported version ", version);
  RSD_CHECK(j.contains("bands") && j.at("bands").is_object(), where, ": no \"bands\" object");
  BandStatistics out;
  for (const auto& [name, b] : j.at("bands").items()) {
    try {
      BandStats s;
      s.kind = kind_from_name(b.at("unit").get<std::string>(), name, origin);
      s.mean = b.at("mean").get<double>();
      s.std = b.at("std").get<double>();
      s.count = json_integer(b, "count", 0, INT64_MAX, "", str_cat(where, ": band ", name));
      s.min = b.at("min").get<double>();
      s.max = b.at("max").get<double>();
      const auto& clip = b.at("clip");
      RSD_CHECK(clip.is_array() && clip.size() == 2, where, ": band ", name, ": \"clip\" must be [lo, hi]");
      s.clip = {clip[0].get<double>(), clip[1].get<double>()};
      out.bands[name] = s;
    } catch (const nlohmann::json::exception& e) {
      fail(where, ": band ", name, ": missing or mistyped field: ", e.what());
    }
  }
  return out;
}

}  // namespace

BandStatistics BandStatistics::from_json(const std::string& text, const std::string& origin) {
  const std::string where = "BandStatistics::from_json" + (origin.empty() ? std::string() : " (" + origin + ")");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(where, ": not valid JSON: ", e.what());
  }
  // Every access below can meet a value of the wrong type (nlohmann throws type_error even from
  // value()): all of them end in one error naming the file.
  try {
    return statistics_from(j, where, origin);
  } catch (const nlohmann::json::exception& e) {
    fail(where, ": not band statistics: ", e.what());
  }
}

// ---- StatisticsAccumulator ----

StatisticsAccumulator::StatisticsAccumulator(std::map<std::string, ClipRange> clip_overrides)
    : clip_overrides_(std::move(clip_overrides)) {}

StatisticsAccumulator::Moments& StatisticsAccumulator::moments_for(const std::string& band) {
  auto it = bands_.find(band);
  if (it != bands_.end()) return it->second;
  Moments m;
  m.kind = band_kind(band);
  auto over = clip_overrides_.find(band);
  m.clip = over != clip_overrides_.end() ? over->second : default_clip_range(band);
  RSD_CHECK(m.clip.lo <= m.clip.hi, "StatisticsAccumulator: band ", band, " has an empty clip range [", m.clip.lo,
            ", ", m.clip.hi, "]");
  return bands_.emplace(band, m).first->second;
}

void StatisticsAccumulator::push(Moments& m, double converted) {
  if (m.count == 0) {
    m.min = m.max = converted;
  } else {
    m.min = std::min(m.min, converted);
    m.max = std::max(m.max, converted);
  }
  const double v = std::clamp(converted, m.clip.lo, m.clip.hi);
  ++m.count;
  const double delta = v - m.mean;
  m.mean += delta / static_cast<double>(m.count);
  m.m2 += delta * (v - m.mean);
}

void StatisticsAccumulator::add_value(const std::string& band, double value) {
  RSD_CHECK(std::isfinite(value), "StatisticsAccumulator::add_value: band ", band, ": value ", value, " is not finite");
  push(moments_for(band), value);
}

int64_t StatisticsAccumulator::add(const Raster& raster, const SourceScaling& scaling) {
  check_raster(raster, "StatisticsAccumulator::add");
  const int64_t channels = raster.channels();
  const size_t pixels = static_cast<size_t>(raster.height * raster.width);
  int64_t added = 0;
  for (int64_t c = 0; c < channels; ++c) {
    Moments& m = moments_for(raster.bands[static_cast<size_t>(c)]);
    for (size_t p = 0; p < pixels; ++p) {
      const size_t i = p * static_cast<size_t>(channels) + static_cast<size_t>(c);
      if (!raster.valid[i]) continue;
      const double v = convert_value(raster.pixels[i], m.kind, scaling);
      if (!std::isfinite(v)) continue;  // marked invalid by normalize, so never counted here either
      push(m, v);
      ++added;
    }
  }
  return added;
}

void StatisticsAccumulator::merge(const StatisticsAccumulator& other) {
  for (const auto& [band, o] : other.bands_) {
    auto it = bands_.find(band);
    if (it == bands_.end()) {
      bands_.emplace(band, o);
      continue;
    }
    Moments& m = it->second;
    RSD_CHECK(m.clip == o.clip, "StatisticsAccumulator::merge: band ", band, " was clipped to [", m.clip.lo, ", ",
              m.clip.hi, "] here and to [", o.clip.lo, ", ", o.clip.hi, "] in the other accumulator");
    if (o.count == 0) continue;
    if (m.count == 0) {
      m = o;
      continue;
    }
    const double na = static_cast<double>(m.count), nb = static_cast<double>(o.count), n = na + nb;
    const double delta = o.mean - m.mean;
    m.mean += delta * nb / n;
    m.m2 += o.m2 + delta * delta * na * nb / n;
    m.count += o.count;
    m.min = std::min(m.min, o.min);
    m.max = std::max(m.max, o.max);
  }
}

BandStatistics StatisticsAccumulator::finish() const {
  BandStatistics out;
  for (const auto& [band, m] : bands_) {
    RSD_CHECK(m.count > 0, "StatisticsAccumulator::finish: band ", band,
              " has no valid pixel in everything accumulated: its statistics are undefined");
    BandStats s;
    s.kind = m.kind;
    s.mean = m.mean;
    s.std = std::sqrt(std::max(m.m2, 0.0) / static_cast<double>(m.count));
    s.count = m.count;
    s.min = m.min;
    s.max = m.max;
    s.clip = m.clip;
    out.bands[band] = s;
  }
  return out;
}

// ---- normalize ----

NormalizeReport normalize(Raster& raster, const BandStatistics& statistics, const SourceScaling& scaling) {
  check_raster(raster, "normalize");
  const int64_t channels = raster.channels();
  const size_t pixels = static_cast<size_t>(raster.height * raster.width);
  NormalizeReport report;
  for (int64_t c = 0; c < channels; ++c) {
    const std::string& band = raster.bands[static_cast<size_t>(c)];
    const BandStats& s = statistics.at(band, str_cat("normalize: raster from ", raster.source.empty() ? "<memory>" : raster.source));
    const BandKind kind = band_kind(band);
    RSD_CHECK(kind == s.kind, "normalize: band ", band, " of ", raster.source, " is ", band_kind_name(kind),
              " but its statistics are in ", band_kind_name(s.kind));
    const double inv_std = 1.0 / divisor(s);
    for (size_t p = 0; p < pixels; ++p) {
      const size_t i = p * static_cast<size_t>(channels) + static_cast<size_t>(c);
      double v = raster.valid[i] ? convert_value(raster.pixels[i], kind, scaling) : 0.0;
      if (!std::isfinite(v)) raster.valid[i] = 0;
      if (!raster.valid[i]) {
        raster.pixels[i] = 0.0f;
        ++report.invalid;
        continue;
      }
      if (v < s.clip.lo) ++report.clipped_low;
      if (v > s.clip.hi) ++report.clipped_high;
      v = std::clamp(v, s.clip.lo, s.clip.hi);
      raster.pixels[i] = static_cast<float>((v - s.mean) * inv_std);
    }
  }
  raster.invalid_count = report.invalid;
  return report;
}

}  // namespace rsd::data
