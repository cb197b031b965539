// The header of a GeoTIFF without its pixels, for `rsd info`.
#include <ogr_srs_api.h>

#include <sstream>

#include "data/gdal/gdal_call.h"
#include "data/gdal/raster_reader.h"
#include "engine/error.h"

namespace rsd::data {
namespace {

// The CRS's own name ("WGS 84 / UTM zone 32N"), or the WKT's start when GDAL cannot parse it.
std::string crs_name(const std::string& wkt) {
  if (wkt.empty()) return "none";
  gdal::ErrorCapture capture;
  OGRSpatialReferenceH srs = OSRNewSpatialReference(wkt.c_str());
  if (srs == nullptr) return wkt.substr(0, 60);
  const char* name = OSRGetName(srs);
  std::string out = name != nullptr ? name : wkt.substr(0, 60);
  const char* code = OSRGetAuthorityCode(srs, nullptr);
  const char* authority = OSRGetAuthorityName(srs, nullptr);
  if (code != nullptr && authority != nullptr) out += str_cat(" (", authority, ":", code, ")");
  OSRDestroySpatialReference(srs);
  return out;
}

}  // namespace

RasterInfo raster_info(const std::string& path) {
  const gdal::OpenRaster r = gdal::open_geotiff(path);
  RasterInfo info;
  info.path = path;
  info.driver = r.driver;
  info.width = r.width;
  info.height = r.height;
  info.band_count = r.band_count;
  info.geo = r.geo;
  for (int b = 1; b <= r.band_count; ++b) {
    GDALRasterBandH band = gdal::band_of(r, b);
    gdal::ErrorCapture capture;
    info.dtypes.push_back(GDALGetDataTypeName(GDALGetRasterDataType(band)));
    int has = 0;
    const double nodata = GDALGetRasterNoDataValue(band, &has);
    info.nodata.push_back(has != 0 ? std::optional<double>(nodata) : std::nullopt);
    const char* description = GDALGetDescription(band);
    info.descriptions.push_back(description != nullptr ? description : "");
    if (capture.failed()) fail(path, ": cannot read band ", b, "'s header (", capture.message(), ")");
  }
  return info;
}

std::string format_raster_info(const RasterInfo& info) {
  std::ostringstream os;
  os << info.path << "\n  " << info.driver << ", " << info.width << " x " << info.height << " px, "
     << info.band_count << " band(s)\n";
  for (size_t b = 0; b < info.dtypes.size(); ++b) {
    os << "  band " << b + 1 << ": " << info.dtypes[b];
    if (info.nodata[b]) os << ", nodata " << *info.nodata[b];
    if (!info.descriptions[b].empty()) os << ", description \"" << info.descriptions[b] << "\"";
    os << "\n";
  }
  os << "  CRS: " << crs_name(info.geo.crs_wkt) << "\n";
  if (info.geo.has_geotransform) {
    const auto& g = info.geo.geotransform;
    os.precision(15);
    os << "  geotransform: (" << g[0] << ", " << g[1] << ", " << g[2] << ", " << g[3] << ", " << g[4] << ", "
       << g[5] << ")\n";
  } else {
    os << "  geotransform: none\n";
  }
  return os.str();
}

}  // namespace rsd::data
