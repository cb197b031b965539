// Test helpers for the GeoTIFF readers: temporary folders, small GeoTIFFs written with GDAL, and
// GDAL's own reading of a band into a buffer of the file's native type (independent of the reader
// under test). Only for builds with GDAL.
#pragma once
#if RSD_HAVE_GDAL
#include <gdal.h>
#include <cpl_conv.h>
#include <ogr_srs_api.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "engine/error.h"
#include "tests/support/test_paths.h"

namespace rsd::test {

namespace fs = std::filesystem;

struct TifSpec {
  int width = 8, height = 8, bands = 1;
  GDALDataType type = GDT_UInt16;
  std::array<double, 6> geotransform{500000.0, 10.0, 0.0, 6000000.0, 0.0, -10.0};
  bool has_geotransform = true;
  int epsg = 32632;                      // 0: no CRS
  std::optional<double> nodata;          // set on every band
  // value(band 0-based, row, col)
  std::function<double(int, int, int)> value = [](int b, int y, int x) { return 100.0 * (b + 1) + 10.0 * y + x; };
};

inline std::string epsg_wkt(int epsg) {
  OGRSpatialReferenceH srs = OSRNewSpatialReference(nullptr);
  char* wkt = nullptr;
  std::string out;
  if (OSRImportFromEPSG(srs, epsg) == OGRERR_NONE && OSRExportToWkt(srs, &wkt) == OGRERR_NONE) out = wkt;
  CPLFree(wkt);
  OSRDestroySpatialReference(srs);
  if (out.empty()) fail("test: cannot build the WKT of EPSG:", epsg);
  return out;
}

// Writes a GeoTIFF; every GDAL call checked (a failure is an rsd::Error naming the file).
inline void write_tif(const fs::path& path, const TifSpec& s) {
  GDALAllRegister();
  fs::create_directories(path.parent_path());
  GDALDriverH driver = GDALGetDriverByName("GTiff");
  if (driver == nullptr) fail("test: no GTiff driver");
  GDALDatasetH ds = GDALCreate(driver, path.string().c_str(), s.width, s.height, s.bands, s.type, nullptr);
  if (ds == nullptr) fail("test: cannot create ", path.string());
  bool ok = true;
  if (s.has_geotransform) {
    std::array<double, 6> gt = s.geotransform;
    ok = ok && GDALSetGeoTransform(ds, gt.data()) == CE_None;
  }
  if (s.epsg != 0) ok = ok && GDALSetProjection(ds, epsg_wkt(s.epsg).c_str()) == CE_None;
  std::vector<double> buf(static_cast<size_t>(s.width) * static_cast<size_t>(s.height));
  for (int b = 0; b < s.bands && ok; ++b) {
    GDALRasterBandH band = GDALGetRasterBand(ds, b + 1);
    ok = band != nullptr;
    if (ok && s.nodata) ok = GDALSetRasterNoDataValue(band, *s.nodata) == CE_None;
    for (int y = 0; y < s.height; ++y) {
      for (int x = 0; x < s.width; ++x) buf[static_cast<size_t>(y * s.width + x)] = s.value(b, y, x);
    }
    ok = ok && GDALRasterIO(band, GF_Write, 0, 0, s.width, s.height, buf.data(), s.width, s.height, GDT_Float64, 0,
                            0) == CE_None;
  }
  GDALClose(ds);
  if (!ok) fail("test: writing ", path.string(), " failed");
}

// GDAL's reading of one band, in the file's native type, each value converted to float32 the way
// the reader under test must (static_cast), with the NaN flags alongside.
struct NativeBand {
  int width = 0, height = 0;
  std::string type;
  std::vector<float> values;       // static_cast<float>(native value); NaN stays NaN
  std::optional<double> nodata;
};

template <typename T>
std::vector<float> read_native_as(GDALRasterBandH band, GDALDataType type, int w, int h, bool* ok) {
  std::vector<T> native(static_cast<size_t>(w) * static_cast<size_t>(h));
  *ok = GDALRasterIO(band, GF_Read, 0, 0, w, h, native.data(), w, h, type, 0, 0) == CE_None;
  std::vector<float> out(native.size());
  for (size_t i = 0; i < native.size(); ++i) out[i] = static_cast<float>(native[i]);
  return out;
}

inline NativeBand gdal_read_native(const fs::path& path, int band_index) {
  GDALAllRegister();
  GDALDatasetH ds = GDALOpen(path.string().c_str(), GA_ReadOnly);
  if (ds == nullptr) fail("test: GDAL cannot open ", path.string());
  NativeBand out;
  out.width = GDALGetRasterXSize(ds);
  out.height = GDALGetRasterYSize(ds);
  GDALRasterBandH band = GDALGetRasterBand(ds, band_index);
  bool ok = band != nullptr;
  if (ok) {
    const GDALDataType t = GDALGetRasterDataType(band);
    out.type = GDALGetDataTypeName(t);
    int has = 0;
    const double nd = GDALGetRasterNoDataValue(band, &has);
    if (has) out.nodata = nd;
    const int w = out.width, h = out.height;
    switch (t) {
      case GDT_Byte: out.values = read_native_as<uint8_t>(band, t, w, h, &ok); break;
      case GDT_UInt16: out.values = read_native_as<uint16_t>(band, t, w, h, &ok); break;
      case GDT_Int16: out.values = read_native_as<int16_t>(band, t, w, h, &ok); break;
      case GDT_Float32: out.values = read_native_as<float>(band, t, w, h, &ok); break;
      case GDT_Float64: out.values = read_native_as<double>(band, t, w, h, &ok); break;
      default: ok = false;
    }
  }
  GDALClose(ds);
  if (!ok) fail("test: GDAL cannot read band ", band_index, " of ", path.string());
  return out;
}

inline std::array<double, 6> gdal_geotransform(const fs::path& path, std::string* wkt) {
  GDALAllRegister();
  GDALDatasetH ds = GDALOpen(path.string().c_str(), GA_ReadOnly);
  if (ds == nullptr) fail("test: GDAL cannot open ", path.string());
  std::array<double, 6> gt{};
  const bool ok = GDALGetGeoTransform(ds, gt.data()) == CE_None;
  if (wkt != nullptr) *wkt = GDALGetProjectionRef(ds);
  GDALClose(ds);
  if (!ok) fail("test: ", path.string(), " has no geotransform");
  return gt;
}

inline void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

}  // namespace rsd::test

#endif  // RSD_HAVE_GDAL
