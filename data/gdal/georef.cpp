// Comparing the georeferencing of two rasters: same CRS, same footprint.
#include <ogr_srs_api.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "data/gdal/gdal_call.h"
#include "data/gdal/raster_reader.h"
#include "engine/error.h"

namespace rsd::data {
namespace {

struct SrsDeleter {
  void operator()(void* srs) const { OSRDestroySpatialReference(static_cast<OGRSpatialReferenceH>(srs)); }
};
using SrsPtr = std::unique_ptr<void, SrsDeleter>;

std::string grid_text(const Raster& r) { return gdal::grid_text(r.width, r.height, r.geo); }

}  // namespace

bool same_crs(const std::string& wkt_a, const std::string& wkt_b) {
  if (wkt_a == wkt_b) return true;
  if (wkt_a.empty() || wkt_b.empty()) return false;
  gdal::ensure_registered();
  gdal::ErrorCapture capture;
  SrsPtr a(OSRNewSpatialReference(wkt_a.c_str()));
  SrsPtr b(OSRNewSpatialReference(wkt_b.c_str()));
  // A WKT GDAL cannot parse is compared as text only (already unequal above).
  if (!a || !b) return false;
  return OSRIsSame(static_cast<OGRSpatialReferenceH>(a.get()), static_cast<OGRSpatialReferenceH>(b.get())) != 0;
}

std::string footprint_difference(const Raster& a, const Raster& b, double tolerance_px) {
  if (a.height != b.height || a.width != b.width) {
    return str_cat("different sizes (", grid_text(a), " vs ", grid_text(b), ")");
  }
  if (!same_crs(a.geo.crs_wkt, b.geo.crs_wkt)) return "different CRS";
  if (a.geo.has_geotransform != b.geo.has_geotransform) {
    return str_cat("one has a geotransform and the other none (", grid_text(a), " vs ", grid_text(b), ")");
  }
  if (!a.geo.has_geotransform) return "";
  const auto& g = a.geo.geotransform;
  const auto& h = b.geo.geotransform;
  const double px = std::hypot(g[1], g[4]), py = std::hypot(g[2], g[5]);
  const bool origin = std::abs(g[0] - h[0]) <= tolerance_px * px && std::abs(g[3] - h[3]) <= tolerance_px * py;
  bool pixel = true;
  for (int i : {1, 2, 4, 5}) pixel = pixel && std::abs(g[i] - h[i]) <= 1e-6 * std::max(px, py);
  if (origin && pixel) return "";
  return str_cat("different footprints (", grid_text(a), " vs ", grid_text(b), ")");
}

}  // namespace rsd::data
