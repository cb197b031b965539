#include "data/gdal/gdal_call.h"

#include <cpl_error.h>

#include <array>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <system_error>

#include "engine/error.h"

namespace rsd::data::gdal {

void ensure_registered() {
  static std::once_flag once;
  std::call_once(once, [] { GDALAllRegister(); });
}

ErrorCapture::ErrorCapture() {
  CPLPushErrorHandlerEx(&ErrorCapture::handler, this);
  CPLErrorReset();
}

ErrorCapture::~ErrorCapture() { CPLPopErrorHandler(); }

void CPL_STDCALL ErrorCapture::handler(CPLErr level, CPLErrorNum, const char* text) {
  auto* self = static_cast<ErrorCapture*>(CPLGetErrorHandlerUserData());
  if (self == nullptr || level == CE_None || level == CE_Debug) return;
  if (level == CE_Failure || level == CE_Fatal) self->failed_ = true;
  self->messages_.push_back(text != nullptr ? text : "(no message)");
}

std::string ErrorCapture::message() const {
  std::string out;
  for (const std::string& m : messages_) out += (out.empty() ? "GDAL: " : "; ") + m;
  if (out.empty()) {
    const char* last = CPLGetLastErrorMsg();
    out = (last != nullptr && *last != '\0') ? str_cat("GDAL: ", last) : "GDAL gave no message";
  }
  return out;
}

void DatasetCloser::operator()(void* dataset) const {
  // Closing a read-only dataset has nothing to report; its messages must not reach stderr either.
  ErrorCapture capture;
  if (dataset != nullptr) GDALClose(static_cast<GDALDatasetH>(dataset));
}

namespace {

GeoInfo read_geo(GDALDatasetH dataset) {
  GeoInfo geo;
  const char* wkt = GDALGetProjectionRef(dataset);
  geo.crs_wkt = wkt != nullptr ? wkt : "";
  std::array<double, 6> gt{};
  // CE_Failure here only means "no geotransform stored", which is not an error for a reader.
  if (GDALGetGeoTransform(dataset, gt.data()) == CE_None) {
    geo.geotransform = gt;
    geo.has_geotransform = true;
  }
  return geo;
}

}  // namespace

OpenRaster open_geotiff(const std::string& path) {
  ensure_registered();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail(path, ": no such file");
  if (!std::filesystem::is_regular_file(path, ec)) fail(path, ": not a regular file");

  ErrorCapture capture;
  static const char* const kDrivers[] = {"GTiff", nullptr};
  static const char* const kNoSiblings[] = {nullptr};
  GDALDatasetH handle = GDALOpenEx(path.c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY | GDAL_OF_VERBOSE_ERROR,
                                   kDrivers, nullptr, kNoSiblings);
  if (handle == nullptr) fail(path, ": not a readable GeoTIFF (", capture.message(), ")");
  OpenRaster out;
  out.dataset.reset(handle);
  out.path = path;
  GDALDriverH driver = GDALGetDatasetDriver(handle);
  out.driver = driver != nullptr ? GDALGetDriverShortName(driver) : "";
  out.width = GDALGetRasterXSize(handle);
  out.height = GDALGetRasterYSize(handle);
  out.band_count = GDALGetRasterCount(handle);
  out.geo = read_geo(handle);
  if (capture.failed()) fail(path, ": GeoTIFF header is damaged (", capture.message(), ")");
  if (out.width <= 0 || out.height <= 0 || out.band_count <= 0) {
    fail(path, ": empty raster (", out.width, " x ", out.height, ", ", out.band_count, " bands)");
  }
  return out;
}

GDALRasterBandH band_of(const OpenRaster& raster, int index) {
  if (index < 1 || index > raster.band_count) {
    fail(raster.path, ": band ", index, " requested, the file has ", raster.band_count, " band(s)");
  }
  ErrorCapture capture;
  GDALRasterBandH band = GDALGetRasterBand(static_cast<GDALDatasetH>(raster.dataset.get()), index);
  if (band == nullptr) fail(raster.path, ": cannot access band ", index, " (", capture.message(), ")");
  return band;
}

std::string grid_text(int64_t width, int64_t height, const GeoInfo& geo) {
  std::ostringstream os;
  os.precision(15);
  os << width << " x " << height << " px";
  if (!geo.has_geotransform) {
    os << ", no geotransform";
  } else {
    const auto& g = geo.geotransform;
    os << ", origin (" << g[0] << ", " << g[3] << "), pixel " << g[1] << " x " << g[5];
    if (g[2] != 0 || g[4] != 0) os << ", rotation " << g[2] << ", " << g[4];
  }
  return os.str();
}

}  // namespace rsd::data::gdal
