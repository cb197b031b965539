#include "data/shard_header.h"

#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/json_limits.h"

namespace rsd::data {
namespace {

using nlohmann::json;

Sensor parse_sensor(const std::string& name, const std::string& file) {
  if (name == "s1") return Sensor::s1;
  if (name == "s2") return Sensor::s2;
  if (name == "label") return Sensor::label;
  fail("corrupt shard header in ", file, ": unknown sensor \"", name, "\" (expected s1, s2 or label)");
}

constexpr int64_t kMaxInt64 = std::numeric_limits<int64_t>::max();
constexpr const char* kCorrupt = "corrupt shard header in ";

json layout_to_json(const ShardLayout& layout) {
  const RecordLayout rl = record_layout(layout);
  json rasters = json::array();
  for (size_t r = 0; r < layout.rasters.size(); ++r) {
    const RasterLayout& l = layout.rasters[r];
    const RasterSections& s = rl.sections[r];
    rasters.push_back({{"sensor", sensor_name(l.sensor)}, {"bands", l.bands}, {"height", l.height},
                       {"width", l.width}, {"dtype", "f32"}, {"mask", "bits-lsb"},
                       {"pixels_offset", s.pixels_offset}, {"pixels_bytes", s.pixels_bytes},
                       {"mask_offset", s.mask_offset}, {"mask_bytes", s.mask_bytes}});
  }
  return {{"name", layout.name}, {"rasters", rasters}, {"class_names", layout.class_names},
          {"synthetic", layout.synthetic}};
}

// Reads the layout and checks that its stored offsets are the ones this version computes: a
// header written by another layout rule must not be read with the wrong offsets.
ShardLayout layout_from_json(const json& j, const std::string& file) {
  ShardLayout layout;
  layout.name = j.at("name").get<std::string>();
  layout.class_names = j.at("class_names").get<std::vector<std::string>>();
  layout.synthetic = j.value("synthetic", false);
  for (const json& r : j.at("rasters")) {
    RasterLayout l;
    l.sensor = parse_sensor(r.at("sensor").get<std::string>(), file);
    // A record holds at most one raster per sensor (RecordView has room for three).
    for (const RasterLayout& earlier : layout.rasters) {
      RSD_CHECK(earlier.sensor != l.sensor, "corrupt shard header in ", file, ": the layout holds two ",
                sensor_name(l.sensor), " rasters");
    }
    l.bands = r.at("bands").get<std::vector<std::string>>();
    // Bounded so that record sizes cannot overflow (2^40 values is far beyond any sensor tile).
    constexpr int64_t kMaxSide = int64_t{1} << 20, kMaxBands = int64_t{1} << 12;
    l.height = json_integer(r, "height", 1, kMaxSide, kCorrupt, file);
    l.width = json_integer(r, "width", 1, kMaxSide, kCorrupt, file);
    RSD_CHECK(l.height > 0 && l.width > 0 && !l.bands.empty() && l.height <= kMaxSide && l.width <= kMaxSide &&
                  l.channels() <= kMaxBands && l.elements() <= (int64_t{1} << 40),
              "corrupt shard header in ", file, ": ", sensor_name(l.sensor), " raster of ", l.height, "x", l.width,
              " with ", l.bands.size(), " bands");
    const std::string dtype = r.at("dtype").get<std::string>();
    const std::string mask = r.at("mask").get<std::string>();
    RSD_CHECK(dtype == "f32", file, ": stored dtype \"", dtype, "\" is not supported by this build (f32)");
    RSD_CHECK(mask == "bits-lsb", file, ": mask encoding \"", mask, "\" is not supported by this build (bits-lsb)");
    layout.rasters.push_back(l);
  }
  RSD_CHECK(!layout.rasters.empty(), "corrupt shard header in ", file, ": the layout has no rasters");
  const RecordLayout rl = record_layout(layout);
  const json& rasters = j.at("rasters");
  for (size_t r = 0; r < layout.rasters.size(); ++r) {
    const RasterSections& s = rl.sections[r];
    const json& stored = rasters[r];
    RSD_CHECK(json_integer(stored, "pixels_offset", 0, kMaxInt64, kCorrupt, file) == s.pixels_offset &&
                  json_integer(stored, "pixels_bytes", 0, kMaxInt64, kCorrupt, file) == s.pixels_bytes &&
                  json_integer(stored, "mask_offset", 0, kMaxInt64, kCorrupt, file) == s.mask_offset &&
                  json_integer(stored, "mask_bytes", 0, kMaxInt64, kCorrupt, file) == s.mask_bytes,
              "corrupt shard header in ", file, ": the section offsets of raster ", r,
              " differ from the ones its layout implies");
  }
  return layout;
}

json geotransform_json(const GeoInfo& geo) {
  if (!geo.has_geotransform) return nullptr;
  return json(std::vector<double>(geo.geotransform.begin(), geo.geotransform.end()));
}

json record_to_json(const RecordMeta& m, std::map<std::string, int64_t>& crs_index, json& crs_table) {
  json rasters = json::array();
  for (const RasterMeta& r : m.rasters) {
    auto [it, inserted] = crs_index.emplace(r.geo.crs_wkt, static_cast<int64_t>(crs_index.size()));
    if (inserted) crs_table.push_back(r.geo.crs_wkt);
    rasters.push_back({{"crs", it->second}, {"geotransform", geotransform_json(r.geo)},
                       {"invalid", r.invalid_count}, {"source", r.source}, {"source_dtype", r.source_dtype}});
  }
  json j = {{"id", m.id}, {"crc32c", m.crc32c}, {"rasters", rasters}};
  if (!m.label_names.empty()) j["labels"] = m.label_names;
  if (m.class_index >= 0) j["class_index"] = m.class_index;
  return j;
}

RecordMeta record_from_json(const json& j, const std::vector<std::string>& crs_table, const ShardLayout& layout,
                            const std::string& file) {
  RecordMeta m;
  m.id = j.at("id").get<std::string>();
  m.crc32c = static_cast<uint32_t>(json_integer(j, "crc32c", 0, UINT32_MAX, kCorrupt, file));
  m.label_names = j.value("labels", std::vector<std::string>{});
  if (j.contains("class_index")) {
    m.class_index = static_cast<int32_t>(json_integer(j, "class_index", -1, INT32_MAX, kCorrupt, file));
  }
  const json& rasters = j.at("rasters");
  const size_t raster_count = layout.rasters.size();
  RSD_CHECK(rasters.is_array() && rasters.size() == raster_count, "corrupt shard header in ", file, ": record \"",
            m.id, "\" has ", rasters.size(), " rasters, the layout ", raster_count);
  for (size_t i = 0; i < raster_count; ++i) {
    const json& r = rasters[i];
    RasterMeta rm;
    const auto crs = static_cast<size_t>(json_integer(r, "crs", 0, kMaxInt64, kCorrupt, file));
    RSD_CHECK(crs < crs_table.size(), "corrupt shard header in ", file, ": record \"", m.id, "\" names CRS ", crs,
              " of ", crs_table.size());
    rm.geo.crs_wkt = crs_table[crs];
    const json& gt = r.at("geotransform");
    if (!gt.is_null()) {
      const auto v = gt.get<std::vector<double>>();
      RSD_CHECK(v.size() == 6, "corrupt shard header in ", file, ": record \"", m.id, "\" has a geotransform of ",
                v.size(), " numbers");
      std::copy(v.begin(), v.end(), rm.geo.geotransform.begin());
      rm.geo.has_geotransform = true;
    }
    rm.invalid_count = json_integer(r, "invalid", 0, layout.rasters[i].elements(), kCorrupt, file);
    rm.source = r.at("source").get<std::string>();
    rm.source_dtype = r.at("source_dtype").get<std::string>();
    m.rasters.push_back(std::move(rm));
  }
  return m;
}

json parse_or_fail(const char* text, size_t length, const std::string& what) {
  RSD_CHECK(json_depth(text, length) <= kMaxJsonDepth, what, " nests JSON deeper than ", kMaxJsonDepth,
            " levels (corrupt, or not written by rsd)");
  try {
    return json::parse(text, text + length);
  } catch (const json::exception& e) {
    fail(what, " is not valid JSON: ", e.what());
  }
}

}  // namespace

int64_t json_integer(const json& j, const char* key, int64_t lo, int64_t hi, const char* prefix,
                     const std::string& file) {
  const json& v = j.at(key);
  bool ok = false;
  int64_t value = 0;
  if (v.is_number_unsigned()) {  // non-negative; beyond int64_t when above hi >= 0
    ok = hi >= 0 && v.get<uint64_t>() <= static_cast<uint64_t>(hi);
    value = ok ? static_cast<int64_t>(v.get<uint64_t>()) : 0;
  } else if (v.is_number_integer()) {
    value = v.get<int64_t>();
    ok = true;
  }
  RSD_CHECK(ok && value >= lo && value <= hi, prefix, file, ": \"", key, "\" is ",
            v.is_primitive() ? v.dump() : std::string(v.type_name()), ", not an integer in [", lo, ", ", hi, "]");
  return value;
}

std::string encode_shard_header(const ShardHeader& header) {
  std::map<std::string, int64_t> crs_index;
  json crs_table = json::array();
  json records = json::array();
  for (const RecordMeta& m : header.records) records.push_back(record_to_json(m, crs_index, crs_table));
  const json j = {{"format", "rsd-shard"},
                  {"version", kShardVersion},
                  {"synthetic", header.layout.synthetic},
                  {"layout", layout_to_json(header.layout)},
                  {"record_bytes", header.record_bytes},
                  {"record_count", header.records.size()},
                  {"checksum", "crc32c"},
                  {"statistics", json::parse(header.statistics_json)},
                  {"crs", crs_table},
                  {"records", records}};
  return j.dump();
}

ShardHeader decode_shard_header(const char* text, size_t length, const std::string& file) {
  const json j = parse_or_fail(text, length, "the header of shard " + file);
  try {
    RSD_CHECK(j.is_object() && j.value("format", "") == "rsd-shard", "corrupt shard header in ", file,
              ": not an rsd-shard header");
    RSD_CHECK(j.at("checksum").get<std::string>() == "crc32c", file, ": checksum \"",
              j.at("checksum").get<std::string>(), "\" is not supported by this build (crc32c)");
    ShardHeader h;
    h.layout = layout_from_json(j.at("layout"), file);
    h.layout.synthetic = j.value("synthetic", false);
    h.statistics_json = j.at("statistics").dump();
    h.record_bytes = json_integer(j, "record_bytes", 0, kMaxInt64, kCorrupt, file);
    const auto crs_table = j.at("crs").get<std::vector<std::string>>();
    const json& records = j.at("records");
    const int64_t count = json_integer(j, "record_count", 0, kMaxInt64, kCorrupt, file);
    RSD_CHECK(records.is_array() && static_cast<int64_t>(records.size()) == count, "corrupt shard header in ", file,
              ": record_count is ", count, " but ", records.size(), " records are described");
    h.records.reserve(records.size());
    for (const json& r : records) h.records.push_back(record_from_json(r, crs_table, h.layout, file));
    return h;
  } catch (const json::exception& e) {
    fail("corrupt shard header in ", file, ": ", e.what());
  }
}

std::string encode_layout(const ShardLayout& layout) { return layout_to_json(layout).dump(); }

ShardLayout decode_layout(const std::string& json_text, const std::string& file) {
  const json j = parse_or_fail(json_text.data(), json_text.size(), "the layout in " + file);
  try {
    return layout_from_json(j, file);
  } catch (const json::exception& e) {
    fail("corrupt layout in ", file, ": ", e.what());
  }
}

std::string canonical_json(const std::string& json_text, const std::string& what) {
  if (json_text.empty()) return "null";
  return parse_or_fail(json_text.data(), json_text.size(), what).dump();
}

}  // namespace rsd::data
