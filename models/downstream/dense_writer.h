// The GeoTIFF of dense embeddings, written row by row as the strips finish (GDAL GTiff: TILED=YES
// with 256 x 256 blocks, COMPRESS=DEFLATE, INTERLEAVE=PIXEL, BIGTIFF=IF_SAFER; the source's CRS and
// geotransform; overviews built by GDALBuildOverviews when the last row is in).
//
//   DenseGeoTiffWriter w(path, width, height, bands, int8, geo, metadata);
//   w.write_rows(data, rows);   // (rows, W, bands) pixel-interleaved, float32 or int8; top to bottom
//   w.finish();                 // overviews, close (close()), rename into place (commit())
//
// Rows are buffered until a whole row of 256-pixel blocks is complete and written then, so GDAL
// never compresses a half-filled block that it would have to read back and rewrite: the buffer
// holds at most W x 256 x bands values of the output type (plus what one call passes; embed_dense
// passes one row at a time). Everything goes to a temporary file
// next to `path`, renamed over it by finish(); a writer destroyed before finish() removes it.
// Each row of blocks is flushed to the file as it is written, so a write error (a disk that filled)
// surfaces there: one rsd::Error naming the rows, quoting GDAL's messages (captured per thread,
// data/gdal/gdal_call.h, never printed raw) and the free space, the temporary file removed.
// Nodata: NaN for float32 and -128 for int8 (stored as GDAL's signed byte), on every band.
// Overviews: factors 2, 4, ... while the coarser side keeps >= 128 px; NEAREST for int8 codes (an
// average of codes is not a unit vector), AVERAGE for float32 features.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "data/sample.h"

namespace rsd::downstream {

class DenseGeoTiffWriter {
 public:
  DenseGeoTiffWriter(std::string path, int64_t width, int64_t height, int64_t bands, bool int8,
                     const data::GeoInfo& geo, const std::vector<std::pair<std::string, std::string>>& metadata);
  ~DenseGeoTiffWriter();
  DenseGeoTiffWriter(const DenseGeoTiffWriter&) = delete;
  DenseGeoTiffWriter& operator=(const DenseGeoTiffWriter&) = delete;

  // The next `rows` rows: (rows, W, bands) floats (float32 files) or int8 codes (int8 files).
  void write_rows(const float* values, int64_t rows);
  void write_rows(const int8_t* codes, int64_t rows);
  // Writes what is buffered, builds the overviews and closes the temporary file.
  void close();
  // Renames the closed file into place (over `path`).
  void commit();
  void finish() {
    close();
    commit();
  }

  int64_t rows_written() const { return next_row_; }

 private:
  void check_room_left(int64_t rows);  // after writing `rows`: refuses a disk that filled meanwhile
  void append(const void* data, int64_t rows, bool int8);
  void flush(int64_t rows);  // writes the first `rows` buffered rows and drops them
  void close_and_remove();

  std::string path_, tmp_;
  int64_t width_, height_, bands_;
  bool int8_;
  void* dataset_ = nullptr;            // GDALDatasetH
  int64_t next_row_ = 0;               // rows received
  int64_t buffered_first_ = 0;         // first row held in buffer_
  std::vector<unsigned char> buffer_;  // (rows, W, bands) values of the output type
  bool closed_ = false, finished_ = false;
};

}  // namespace rsd::downstream
