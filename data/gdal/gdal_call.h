// GDAL plumbing: registering GDAL once, capturing its messages on the calling thread, and opening
// GeoTIFFs with errors that name the file. For the .cpp files that call GDAL directly (data/gdal
// and the dense GeoTIFF writer, models/downstream/dense_writer.cpp); nothing else should.
#pragma once
#include <gdal.h>

#include <memory>
#include <string>
#include <vector>

#include "data/sample.h"

namespace rsd::data::gdal {

// Registers GDAL's drivers once per process (thread-safe).
void ensure_registered();

// While alive, GDAL's messages raised on this thread go into this object instead of stderr
// (CPLPushErrorHandlerEx keeps a handler stack per thread, so threads do not see each other's).
class ErrorCapture {
 public:
  ErrorCapture();
  ~ErrorCapture();
  ErrorCapture(const ErrorCapture&) = delete;
  ErrorCapture& operator=(const ErrorCapture&) = delete;

  bool failed() const { return failed_; }  // a CE_Failure or CE_Fatal was raised
  // The captured messages ("GDAL: ..."), or CPLGetLastErrorMsg when none was captured.
  std::string message() const;

 private:
  static void CPL_STDCALL handler(CPLErr level, CPLErrorNum number, const char* text);
  std::vector<std::string> messages_;
  bool failed_ = false;
};

struct DatasetCloser {
  void operator()(void* dataset) const;
};
using DatasetPtr = std::unique_ptr<void, DatasetCloser>;

// An open GeoTIFF and its header.
struct OpenRaster {
  DatasetPtr dataset;
  std::string path;
  std::string driver;
  int64_t width = 0, height = 0;
  int band_count = 0;
  GeoInfo geo;
};

// Opens `path` read-only with the GTiff driver only. Errors: a missing file, a file that is not a
// (readable) GeoTIFF, an empty raster; each names the file and quotes GDAL.
OpenRaster open_geotiff(const std::string& path);

// Band `index` (1-based) of an open raster, checked.
GDALRasterBandH band_of(const OpenRaster& raster, int index);

// "224 x 224 px, origin (549892.697031448, 6344077.61425945), pixel 10 x -10" for messages.
std::string grid_text(int64_t width, int64_t height, const GeoInfo& geo);

}  // namespace rsd::data::gdal
