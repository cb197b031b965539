// Loading one discovered sample: read its rasters, check they agree, attach its labels.
#include "data/gdal/raster_reader.h"
#include "data/layouts.h"
#include "engine/error.h"

namespace rsd::data {
namespace {

void check_not_all_nodata(const Raster& r) {
  if (!r.pixels.empty() && r.invalid_count == static_cast<int64_t>(r.pixels.size())) {
    fail(r.source, ": all-nodata sample: every pixel of every band is nodata or NaN");
  }
}

void check_same_footprint(const Raster& a, const Raster& b, double tolerance_px, const char* what) {
  const std::string diff = footprint_difference(a, b, tolerance_px);
  if (!diff.empty()) fail(a.source, " and ", b.source, ": ", what, " of one sample have ", diff);
}

Labels load_labels(const LabelRef& ref, const Raster& imagery, double tolerance_px) {
  Labels out;
  out.names = ref.names;
  out.class_index = ref.class_index;
  if (ref.kind != LabelKind::map) return out;
  Raster map = read_raster(ref.map);
  if (map.channels() != 1) fail(ref.map.path, ": a label map has one band, ", map.channels(), " selected");
  check_same_footprint(imagery, map, tolerance_px, "the imagery and the label map");
  if (ref.ignore) {
    for (size_t i = 0; i < map.pixels.size(); ++i) {
      if (map.valid[i] != 0 && map.pixels[i] == *ref.ignore) {
        map.valid[i] = 0;
        ++map.invalid_count;
      }
    }
  }
  out.map = std::move(map);
  return out;
}

}  // namespace

Sample load_sample(const SampleRef& ref) {
  if (!ref.problem.empty()) fail(ref.problem);
  if (ref.s1.empty() && ref.s2.empty()) fail("sample ", ref.id, ": no S1 or S2 files");
  Sample out;
  out.id = ref.id;
  if (!ref.s1.empty()) {
    out.s1 = read_stack(ref.s1);
    check_not_all_nodata(*out.s1);
  }
  if (!ref.s2.empty()) {
    out.s2 = read_stack(ref.s2);
    check_not_all_nodata(*out.s2);
  }
  if (out.s1 && out.s2) check_same_footprint(*out.s1, *out.s2, ref.footprint_tolerance_px, "S1 and S2");
  out.labels = load_labels(ref.label, out.s2 ? *out.s2 : *out.s1, ref.footprint_tolerance_px);
  return out;
}

}  // namespace rsd::data
