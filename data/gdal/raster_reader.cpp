// Reading GeoTIFF pixels into a Raster: one file, or a stack of files on the finest file's grid.
#include "data/gdal/raster_reader.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <numeric>

#include "data/gdal/gdal_call.h"
#include "engine/error.h"

namespace rsd::data {
namespace {

using gdal::ErrorCapture;
using gdal::OpenRaster;

// Files of one stack must share their extent to this fraction of an output pixel.
constexpr double kStackTolerancePx = 0.01;

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : " ") + n;
  return out;
}

// "DIR/{A.tif, B.tif}" for several files in one folder, else the paths separated by ", ".
std::string join_paths(const std::vector<std::string>& paths) {
  if (paths.size() == 1) return paths[0];
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(paths.at(0)).parent_path();
  bool one_folder = true;
  for (const std::string& p : paths) one_folder = one_folder && fs::path(p).parent_path() == dir;
  std::string out;
  for (const std::string& p : paths) {
    out += (out.empty() ? "" : ", ") + (one_folder ? fs::path(p).filename().string() : p);
  }
  return one_folder ? str_cat((dir / "").string(), "{", out, "}") : out;
}

bool supported_type(GDALDataType type) {
  switch (type) {
    case GDT_Byte: case GDT_UInt16: case GDT_Int16: case GDT_UInt32: case GDT_Int32:
    case GDT_Float32: case GDT_Float64:
      return true;
    default:
      return false;
  }
}

// The 1-based band numbers to read from `file`: its selection, or every band of the file.
std::vector<int> bands_to_read(const OpenRaster& raster, const RasterFile& file) {
  if (file.bands.empty()) fail(raster.path, ": no band names given for this file");
  if (file.band_indices.empty()) {
    if (static_cast<size_t>(raster.band_count) != file.bands.size()) {
      fail(raster.path, ": wrong band count: the file has ", raster.band_count, " band(s), expected ",
           file.bands.size(), " (", join_names(file.bands), ")");
    }
    std::vector<int> all(static_cast<size_t>(raster.band_count));
    std::iota(all.begin(), all.end(), 1);
    return all;
  }
  if (file.band_indices.size() != file.bands.size()) {
    fail(raster.path, ": ", file.band_indices.size(), " band number(s) selected but ", file.bands.size(),
         " band name(s) given (", join_names(file.bands), ")");
  }
  for (int index : file.band_indices) {
    if (index < 1 || index > raster.band_count) {
      fail(raster.path, ": wrong band count: band ", index, " requested, the file has ", raster.band_count,
           " band(s)");
    }
  }
  return file.band_indices;
}

std::string grid_text(const OpenRaster& r) { return gdal::grid_text(r.width, r.height, r.geo); }

// `file` must cover the same ground as the grid-defining `ref`, in the same CRS.
void check_same_footprint(const OpenRaster& ref, const OpenRaster& file) {
  if (!same_crs(ref.geo.crs_wkt, file.geo.crs_wkt)) {
    fail(file.path, " and ", ref.path, ": different CRS, their bands cannot be stacked on one grid");
  }
  const bool same_size = file.width == ref.width && file.height == ref.height;
  if (!ref.geo.has_geotransform || !file.geo.has_geotransform) {
    if (same_size && !ref.geo.has_geotransform && !file.geo.has_geotransform) return;
    fail(file.path, " (", grid_text(file), ") and ", ref.path, " (", grid_text(ref),
         "): a geotransform is missing, the bands cannot be placed on one grid");
  }
  const auto& a = ref.geo.geotransform;
  const auto& b = file.geo.geotransform;
  const double tx = kStackTolerancePx * std::abs(a[1]), ty = kStackTolerancePx * std::abs(a[5]);
  const bool north_up = a[2] == 0 && a[4] == 0 && b[2] == 0 && b[4] == 0;
  const bool origin = std::abs(a[0] - b[0]) <= tx && std::abs(a[3] - b[3]) <= ty;
  const bool extent = std::abs(a[0] + ref.width * a[1] - (b[0] + file.width * b[1])) <= tx &&
                      std::abs(a[3] + ref.height * a[5] - (b[3] + file.height * b[5])) <= ty;
  if (!(origin && extent && (north_up || same_size))) {
    fail(file.path, " (", grid_text(file), ") and ", ref.path, " (", grid_text(ref),
         "): different footprints, their bands cannot be stacked on one grid");
  }
}

void check_window(const Window& w, int64_t width, int64_t height, const std::string& what) {
  if (w.width <= 0 || w.height <= 0 || w.x < 0 || w.y < 0 || w.x + w.width > width || w.y + w.height > height) {
    fail(what, ": window (x ", w.x, ", y ", w.y, ", ", w.width, " x ", w.height, ") does not fit in the ",
         width, " x ", height, " raster");
  }
}

// Nearest-neighbour source index of output index `i` on an axis of `out` pixels, when the source
// has `src` pixels over the same extent: floor((i + 0.5) * src / out), in exact integers.
int64_t nearest_source(int64_t i, int64_t src, int64_t out) { return ((2 * i + 1) * src) / (2 * out); }

float to_float(double v) {
  constexpr double kMax = std::numeric_limits<float>::max();
  if (v > kMax) return std::numeric_limits<float>::infinity();
  if (v < -kMax) return -std::numeric_limits<float>::infinity();
  return static_cast<float>(v);
}

// Reads `bands` of `file` for the output window `win` on a grid_w x grid_h grid into channels
// [first_channel, first_channel + bands.size()) of `out`; returns the GDAL type names read.
std::vector<std::string> read_file_into(const OpenRaster& file, const std::vector<int>& bands, int64_t grid_w,
                                        int64_t grid_h, const Window& win, int64_t first_channel, Raster& out) {
  const int64_t x0 = nearest_source(win.x, file.width, grid_w);
  const int64_t x1 = nearest_source(win.x + win.width - 1, file.width, grid_w);
  const int64_t y0 = nearest_source(win.y, file.height, grid_h);
  const int64_t y1 = nearest_source(win.y + win.height - 1, file.height, grid_h);
  const int64_t sw = x1 - x0 + 1, sh = y1 - y0 + 1, nb = static_cast<int64_t>(bands.size());

  std::vector<double> nodata(bands.size());
  std::vector<int> has_nodata(bands.size(), 0);
  std::vector<std::string> types;
  for (size_t i = 0; i < bands.size(); ++i) {
    GDALRasterBandH band = gdal::band_of(file, bands[i]);
    const GDALDataType type = GDALGetRasterDataType(band);
    if (!supported_type(type)) {
      fail(file.path, ": band ", bands[i], " has type ", GDALGetDataTypeName(type),
           "; supported: Byte, UInt16, Int16, UInt32, Int32, Float32, Float64");
    }
    types.push_back(GDALGetDataTypeName(type));
    ErrorCapture capture;
    nodata[i] = GDALGetRasterNoDataValue(band, &has_nodata[i]);
    if (capture.failed()) fail(file.path, ": cannot read band ", bands[i], "'s nodata value (", capture.message(), ")");
  }

  // buffer: (sh, sw, nb) interleaved float64, which holds every supported type exactly.
  std::vector<double> buffer(static_cast<size_t>(sw * sh * nb));
  std::vector<int> band_map(bands);
  GDALRasterIOExtraArg extra;
  INIT_RASTERIO_EXTRA_ARG(extra);
  constexpr GSpacing kD = sizeof(double);
  ErrorCapture capture;
  const CPLErr err = GDALDatasetRasterIOEx(static_cast<GDALDatasetH>(file.dataset.get()), GF_Read, static_cast<int>(x0),
                                           static_cast<int>(y0), static_cast<int>(sw), static_cast<int>(sh),
                                           buffer.data(), static_cast<int>(sw), static_cast<int>(sh), GDT_Float64,
                                           static_cast<int>(nb), band_map.data(), nb * kD, sw * nb * kD, kD, &extra);
  if (err != CE_None || capture.failed()) {
    fail(file.path, ": cannot read pixels (rows ", y0, "..", y1, ", columns ", x0, "..", x1,
         "); the file is truncated or damaged (", capture.message(), ")");
  }

  const int64_t channels = out.channels();
  for (int64_t row = 0; row < win.height; ++row) {
    const int64_t sr = nearest_source(win.y + row, file.height, grid_h) - y0;
    for (int64_t col = 0; col < win.width; ++col) {
      const int64_t sc = nearest_source(win.x + col, file.width, grid_w) - x0;
      const double* src = &buffer[static_cast<size_t>((sr * sw + sc) * nb)];
      const size_t dst = static_cast<size_t>((row * win.width + col) * channels + first_channel);
      for (int64_t b = 0; b < nb; ++b) {
        const double v = src[b];
        const bool nan = std::isnan(v);
        const bool bad = nan || (has_nodata[b] != 0 && v == nodata[b]);
        out.pixels[dst + b] = nan ? 0.0f : to_float(v);
        out.valid[dst + b] = bad ? 0 : 1;
        out.invalid_count += bad ? 1 : 0;
      }
    }
  }
  return types;
}

std::string dtype_summary(const std::vector<std::string>& types) {
  std::vector<std::string> unique;
  for (const std::string& t : types) {
    bool seen = false;
    for (const std::string& u : unique) seen = seen || u == t;
    if (!seen) unique.push_back(t);
  }
  std::string out;
  for (const std::string& u : unique) out += (out.empty() ? "" : ",") + u;
  return out;
}

}  // namespace

Raster read_stack(const std::vector<RasterFile>& files, const std::optional<Window>& window) {
  if (files.empty()) fail("read_stack: no files given");
  std::vector<OpenRaster> open;
  std::vector<std::vector<int>> selections;
  std::vector<std::string> paths;
  size_t ref = 0;
  for (const RasterFile& f : files) {
    open.push_back(gdal::open_geotiff(f.path));
    selections.push_back(bands_to_read(open.back(), f));
    paths.push_back(f.path);
    const OpenRaster& r = open.back();
    if (r.width * r.height > open[ref].width * open[ref].height) ref = open.size() - 1;
  }
  for (const OpenRaster& r : open) {
    if (&r != &open[ref]) check_same_footprint(open[ref], r);
  }

  const OpenRaster& grid = open[ref];
  const Window win = window.value_or(Window{0, 0, grid.width, grid.height});
  check_window(win, grid.width, grid.height, join_paths(paths));

  Raster out;
  for (const RasterFile& f : files) out.bands.insert(out.bands.end(), f.bands.begin(), f.bands.end());
  out.height = win.height;
  out.width = win.width;
  const size_t n = static_cast<size_t>(out.height * out.width * out.channels());
  out.pixels.assign(n, 0.0f);
  out.valid.assign(n, 0);
  out.geo = grid.geo;
  if (out.geo.has_geotransform) {
    auto& g = out.geo.geotransform;
    const double x = static_cast<double>(win.x), y = static_cast<double>(win.y);
    const double origin_x = g[0] + x * g[1] + y * g[2], origin_y = g[3] + x * g[4] + y * g[5];
    g[0] = origin_x;
    g[3] = origin_y;
  }
  out.source = join_paths(paths);

  std::vector<std::string> types;
  int64_t channel = 0;
  for (size_t i = 0; i < open.size(); ++i) {
    const auto t = read_file_into(open[i], selections[i], grid.width, grid.height, win, channel, out);
    types.insert(types.end(), t.begin(), t.end());
    channel += static_cast<int64_t>(selections[i].size());
  }
  out.source_dtype = dtype_summary(types);
  return out;
}

Raster read_raster(const RasterFile& file, const std::optional<Window>& window) { return read_stack({file}, window); }

Raster read_raster(const std::string& path, const std::vector<std::string>& band_names,
                   const std::optional<Window>& window) {
  return read_stack({RasterFile{path, band_names, {}}}, window);
}

}  // namespace rsd::data
