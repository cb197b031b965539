#include "models/downstream/dense_writer.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <limits>
#include <vector>

#include "engine/error.h"
#include "engine/output_preflight.h"
#if RSD_HAVE_GDAL
#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <gdal.h>

#include "data/gdal/gdal_call.h"
#endif

namespace rsd::downstream {

namespace fs = std::filesystem;

namespace {
constexpr int64_t kBlock = 256;  // GeoTIFF block side, and the row granularity of the writes

#if RSD_HAVE_GDAL
// GDAL's messages of a failed call, captured (never printed raw), as " (GDAL: ...)": the first few
// distinct ones (a full disk makes libtiff repeat itself for every block and tag it tries).
std::string gdal_message(const data::gdal::ErrorCapture& capture) {
  const std::string all = capture.message();
  std::vector<std::string> distinct;
  size_t dropped = 0;
  for (size_t begin = 0; begin <= all.size();) {
    size_t end = all.find("; ", begin);
    if (end == std::string::npos) end = all.size();
    const std::string m = all.substr(begin, end - begin);
    if (std::find(distinct.begin(), distinct.end(), m) == distinct.end()) {
      if (distinct.size() < 3)
        distinct.push_back(m);
      else
        ++dropped;
    }
    begin = end + 2;
  }
  std::string out;
  for (const std::string& m : distinct) out += (out.empty() ? "" : "; ") + m;
  return str_cat(" (", out, dropped > 0 ? str_cat("; and ", dropped, " more") : std::string(), ")");
}

// What a failed write adds when the disk is (nearly) full: the free space, and what to do.
std::string disk_hint(const std::string& file, uint64_t needed) {
  const uint64_t free = free_bytes_at(file);
  if (free >= needed) return "";
  return str_cat("; No space left on device: the file system holding ", fs::path(file).parent_path().string(),
                 " has ", byte_size_text(free), " free. Free some space or write elsewhere (--out)");
}
#endif
}  // namespace

#if RSD_HAVE_GDAL
DenseGeoTiffWriter::DenseGeoTiffWriter(std::string path, int64_t width, int64_t height, int64_t bands, bool int8,
                                       const data::GeoInfo& geo,
                                       const std::vector<std::pair<std::string, std::string>>& metadata)
    : path_(std::move(path)), width_(width), height_(height), bands_(bands), int8_(int8) {
  RSD_CHECK(width >= 1 && height >= 1 && bands >= 1, path_, ": cannot write a ", width, " x ", height,
            " px GeoTIFF of ", bands, " bands");
  GDALAllRegister();
  GDALDriverH driver = GDALGetDriverByName("GTiff");
  RSD_CHECK(driver != nullptr, path_, ": GDAL has no GTiff driver");
  tmp_ = str_cat(path_, ".tmp.", ::getpid(), ".tif");
  char** options = nullptr;
  options = CSLSetNameValue(options, "TILED", "YES");
  options = CSLSetNameValue(options, "BLOCKXSIZE", std::to_string(kBlock).c_str());
  options = CSLSetNameValue(options, "BLOCKYSIZE", std::to_string(kBlock).c_str());
  options = CSLSetNameValue(options, "COMPRESS", "DEFLATE");
  options = CSLSetNameValue(options, "BIGTIFF", "IF_SAFER");
  options = CSLSetNameValue(options, "INTERLEAVE", "PIXEL");
  if (int8) options = CSLSetNameValue(options, "PIXELTYPE", "SIGNEDBYTE");
  data::gdal::ErrorCapture capture;  // GDAL's messages go into the errors below, never raw to stderr
  GDALDatasetH ds = GDALCreate(driver, tmp_.c_str(), static_cast<int>(width), static_cast<int>(height),
                               static_cast<int>(bands), int8 ? GDT_Byte : GDT_Float32, options);
  CSLDestroy(options);
  RSD_CHECK(ds != nullptr, tmp_, ": cannot create the GeoTIFF", gdal_message(capture), disk_hint(tmp_, 1 << 20));
  dataset_ = ds;
  bool ok = true;
  if (geo.has_geotransform) {
    std::array<double, 6> gt = geo.geotransform;
    ok = ok && GDALSetGeoTransform(ds, gt.data()) == CE_None;
  }
  if (!geo.crs_wkt.empty()) ok = ok && GDALSetProjection(ds, geo.crs_wkt.c_str()) == CE_None;
  for (const auto& [key, value] : metadata)
    ok = ok && GDALSetMetadataItem(ds, key.c_str(), value.c_str(), nullptr) == CE_None;
  const double nodata = int8 ? -128.0 : static_cast<double>(std::numeric_limits<float>::quiet_NaN());
  for (int b = 1; b <= bands && ok; ++b) {
    GDALRasterBandH band = GDALGetRasterBand(ds, b);
    ok = band != nullptr && GDALSetRasterNoDataValue(band, nodata) == CE_None;
  }
  if (!ok || capture.failed()) {
    const std::string message = gdal_message(capture);
    close_and_remove();
    fail(path_, ": setting the GeoTIFF's georeferencing, metadata or nodata failed", message);
  }
}

// GDAL keeps written blocks in its cache and writes them when the cache fills or at close, so a disk
// that fills during the run would fail only then, after every tile was computed. Flushing each row
// of blocks would find it at once but costs as much again (the overviews then read back and
// decompress every block), so instead the file system must keep room, after each row of blocks,
// for what is still to come: the whole output (uncompressed, with overviews: the up-front estimate)
// less what the file already holds on disk.
void DenseGeoTiffWriter::check_room_left(int64_t rows) {
  const uint64_t bytes = int8_ ? 1 : 4;
  const uint64_t total = static_cast<uint64_t>(width_ * height_ * bands_) * bytes * 4 / 3;
  std::error_code ec;
  const uint64_t on_disk = fs::exists(tmp_, ec) ? static_cast<uint64_t>(fs::file_size(tmp_, ec)) : 0;
  const uint64_t to_come = total > on_disk ? total - on_disk : 0;
  const uint64_t free = free_bytes_at(tmp_);
  if (free >= to_come) return;
  close_and_remove();
  fail(path_, ": writing rows ", buffered_first_, " to ", buffered_first_ + rows, " of the GeoTIFF: No space left on ",
       "device for the rest: the file system holding ", fs::path(tmp_).parent_path().string(), " has ",
       byte_size_text(free), " free, about ", byte_size_text(to_come), " (uncompressed) are still to be written. The ",
       "temporary file was removed, nothing was written; free some space or write elsewhere (--out)");
}

void DenseGeoTiffWriter::flush(int64_t rows) {
  if (rows == 0) return;
  const int bytes = int8_ ? 1 : 4;
  data::gdal::ErrorCapture capture;
  const CPLErr err =
      GDALDatasetRasterIO(static_cast<GDALDatasetH>(dataset_), GF_Write, 0, static_cast<int>(buffered_first_),
                          static_cast<int>(width_), static_cast<int>(rows), buffer_.data(), static_cast<int>(width_),
                          static_cast<int>(rows), int8_ ? GDT_Byte : GDT_Float32, static_cast<int>(bands_), nullptr,
                          bytes * static_cast<int>(bands_), bytes * static_cast<int>(bands_ * width_), bytes);
  if (err != CE_None || capture.failed()) {
    const std::string message = gdal_message(capture);
    close_and_remove();
    fail(path_, ": writing rows ", buffered_first_, " to ", buffered_first_ + rows, " of the GeoTIFF failed", message,
         disk_hint(tmp_, static_cast<uint64_t>(rows * width_ * bands_ * bytes)),
         "; the temporary file was removed, nothing was written");
  }
  check_room_left(rows);
  buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(rows * width_ * bands_ * bytes));
  buffered_first_ += rows;
}

void DenseGeoTiffWriter::close() {
  RSD_CHECK(!closed_, path_, ": the GeoTIFF writer was already closed");
  RSD_CHECK(next_row_ == height_, path_, ": ", next_row_, " of ", height_, " rows were written before close()");
  flush(next_row_ - buffered_first_);
  std::vector<int> levels;
  for (int f = 2; std::max(width_, height_) / f >= 128; f *= 2) levels.push_back(f);
  bool ok = true, closed = true;
  std::string message;
  {
    data::gdal::ErrorCapture capture;
    ok = levels.empty() ||
         GDALBuildOverviews(static_cast<GDALDatasetH>(dataset_), int8_ ? "NEAREST" : "AVERAGE",
                            static_cast<int>(levels.size()), levels.data(), 0, nullptr, nullptr, nullptr) == CE_None;
    ok = ok && !capture.failed();
    if (!ok) message = gdal_message(capture);
  }
  {
    data::gdal::ErrorCapture capture;
    GDALClose(static_cast<GDALDatasetH>(dataset_));  // flushes the last blocks: failures show as a raised error
    closed = !capture.failed();
    if (ok && !closed) message = gdal_message(capture);
  }
  dataset_ = nullptr;
  if (!ok || !closed) {
    std::error_code ec;
    fs::remove(tmp_, ec);
    fail(path_, ": ", ok ? "closing" : "building the overviews of", " the GeoTIFF failed", message,
         disk_hint(tmp_, static_cast<uint64_t>(width_ * std::min<int64_t>(height_, kBlock) * bands_ * (int8_ ? 1 : 4))),
         "; the temporary file was removed, nothing was written");
  }
  closed_ = true;
}

void DenseGeoTiffWriter::commit() {
  RSD_CHECK(closed_ && !finished_, path_, ": commit() needs a closed, uncommitted GeoTIFF writer");
  std::error_code ec;
  fs::rename(tmp_, path_, ec);
  if (ec) {
    const std::string why = ec.message();
    fs::remove(tmp_, ec);
    fail(path_, ": cannot rename ", tmp_, " into place: ", why);
  }
  finished_ = true;
}

void DenseGeoTiffWriter::close_and_remove() {
  if (dataset_ != nullptr) {
    // Closing flushes what is cached, which fails again on a full disk: the error being raised
    // already says what went wrong, so these messages are dropped, not printed.
    data::gdal::ErrorCapture capture;
    GDALClose(static_cast<GDALDatasetH>(dataset_));
  }
  dataset_ = nullptr;
  std::error_code ec;
  fs::remove(tmp_, ec);
}
#else
DenseGeoTiffWriter::DenseGeoTiffWriter(std::string path, int64_t width, int64_t height, int64_t bands, bool int8,
                                       const data::GeoInfo&, const std::vector<std::pair<std::string, std::string>>&)
    : path_(std::move(path)), width_(width), height_(height), bands_(bands), int8_(int8) {
  fail(path_, ": rsd embed --dense writes GeoTIFFs and needs a build with GDAL; this one has none");
}
void DenseGeoTiffWriter::flush(int64_t) {}
void DenseGeoTiffWriter::close() {}
void DenseGeoTiffWriter::commit() {}
void DenseGeoTiffWriter::close_and_remove() {}
#endif

DenseGeoTiffWriter::~DenseGeoTiffWriter() {
  if (!finished_) close_and_remove();
}

void DenseGeoTiffWriter::append(const void* data, int64_t rows, bool int8) {
  RSD_CHECK(int8 == int8_, path_, ": ", int8 ? "int8 codes" : "float32 values", " written to a ",
            int8_ ? "int8" : "float32", " GeoTIFF");
  RSD_CHECK(rows >= 0 && next_row_ + rows <= height_, path_, ": rows ", next_row_, " to ", next_row_ + rows,
            " written to a GeoTIFF of ", height_, " rows");
  const size_t bytes = static_cast<size_t>(rows * width_ * bands_) * (int8_ ? 1 : 4);
  const auto* p = static_cast<const unsigned char*>(data);
  buffer_.insert(buffer_.end(), p, p + bytes);
  next_row_ += rows;
  // Whole rows of blocks go out as soon as they are complete (buffered_first_ is a multiple of the
  // block height until close() writes the last, shorter one).
  const int64_t complete = (next_row_ / kBlock) * kBlock;
  if (complete > buffered_first_) flush(complete - buffered_first_);
}

void DenseGeoTiffWriter::write_rows(const float* values, int64_t rows) { append(values, rows, false); }
void DenseGeoTiffWriter::write_rows(const int8_t* codes, int64_t rows) { append(codes, rows, true); }

}  // namespace rsd::downstream
