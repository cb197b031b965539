// GeoTIFF readers (GDAL): one multi-band file, or several files (one per band, or a few bands
// each) stacked into one Raster on the grid of the finest file. Band names always come from the
// caller (the layout): files do not carry reliable names, and a 12-band L2A file must never pass
// for a 13-band L1C one.
//
// Every GDAL call is checked; a failure is an rsd::Error that names the file, says what is wrong
// and quotes GDAL's own message. GDAL's messages are captured per call on the calling thread
// (CPLPushErrorHandlerEx), so GDAL never prints to stderr by itself and readers may run on several
// threads at once.
//
// Pixel values: the stored value converted to float32 with round-to-nearest (exact for uint8,
// uint16, int16 and float32 sources; float64 rounds once). A pixel equal to the band's nodata
// value, or NaN, is marked 0 in Raster::valid and counted in Raster::invalid_count; its stored
// value is kept, except NaN, which is stored as 0 so that no NaN reaches arithmetic downstream.
//
// This header has no GDAL types; without GDAL (RSD_HAVE_GDAL == 0) every function here throws an
// rsd::Error saying that rsd was built without GDAL.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data/sample.h"

namespace rsd::data {

// A pixel window on the grid being read: columns [x, x + width), rows [y, y + height).
struct Window {
  int64_t x = 0, y = 0, width = 0, height = 0;
};

// One file and the bands to take from it, in output channel order. `bands` names them;
// `band_indices` are 1-based band numbers of the file: empty means every band, and then the file's
// band count must equal bands.size() (a mismatch is an error naming both counts).
struct RasterFile {
  std::string path;
  std::vector<std::string> bands;
  std::vector<int> band_indices;
};

// What `rsd info` shows for a GeoTIFF, read from its header only (no pixels).
struct RasterInfo {
  std::string path;
  std::string driver;                         // "GTiff"
  int64_t width = 0, height = 0;
  int band_count = 0;
  std::vector<std::string> dtypes;            // per band, GDAL's names: "UInt16", "Float32", ...
  std::vector<std::optional<double>> nodata;  // per band; nullopt where none is set
  std::vector<std::string> descriptions;      // per band, as stored (often empty or unreliable)
  GeoInfo geo;
};

RasterInfo raster_info(const std::string& path);
// Several lines: size, bands and types, nodata, CRS name, geotransform.
std::string format_raster_info(const RasterInfo& info);

// All bands of one GeoTIFF (band_names.size() must equal its band count), optionally a window.
Raster read_raster(const std::string& path, const std::vector<std::string>& band_names,
                   const std::optional<Window>& window = std::nullopt);
Raster read_raster(const RasterFile& file, const std::optional<Window>& window = std::nullopt);

// Several files stacked in order into one Raster, e.g. BigEarthNet's per-band files (10 m bands
// 120 x 120, 20 m bands 60 x 60, 60 m bands 20 x 20). The file with the most pixels defines the
// grid (size, geotransform, CRS); every other file must cover the same footprint in the same CRS
// (else an error naming both files) and is resampled onto that grid by nearest neighbour: output
// pixel (row, col) takes source pixel (floor((row + 0.5) * src_h / h), floor((col + 0.5) * src_w
// / w)), so a 20 m pixel fills its 2 x 2 block of 10 m pixels and a 60 m pixel its 6 x 6 block.
// Nearest is chosen over bilinear because it keeps every value a measured digital number (the
// values stay comparable with GDAL's reading of the source and with the nodata value, and the
// validity mask follows the source pixel exactly), and because a coarse band holds no detail a
// smoother interpolation could recover. The window is in the output grid's pixels.
Raster read_stack(const std::vector<RasterFile>& files, const std::optional<Window>& window = std::nullopt);

// Whether two WKT strings describe the same CRS (GDAL's OSRIsSame; both empty counts as same).
bool same_crs(const std::string& wkt_a, const std::string& wkt_b);

// Empty when a and b cover the same pixels: equal size, same CRS, and geotransforms whose origin
// differs by at most tolerance_px of a's pixel and whose pixel sizes agree to 1e-6. Otherwise a
// sentence saying how they differ (sizes, geotransforms or CRS), for an error message.
std::string footprint_difference(const Raster& a, const Raster& b, double tolerance_px);

}  // namespace rsd::data
