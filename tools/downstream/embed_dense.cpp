#include "tools/downstream/embed_dense.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "data/gdal/raster_reader.h"
#include "data/normalization.h"
#include "engine/autograd.h"
#include "engine/ops/convert.h"
#include "tools/downstream/embed_chips.h"
#include "tools/downstream/embed_inputs.h"
#include "tools/progress.h"
#if RSD_HAVE_GDAL
#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <gdal.h>
#endif

namespace rsd::tools {

namespace fs = std::filesystem;

namespace {

constexpr double kPi = 3.14159265358979323846;

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : ",") + p;
  return out;
}

// Tile origins along one axis of `size` pixels: every `step`, the last one flush with the end.
std::vector<int64_t> tile_starts(int64_t size, int64_t tile, int64_t step) {
  std::vector<int64_t> starts;
  for (int64_t s = 0;; s += step) {
    if (s + tile >= size) {
      starts.push_back(std::max<int64_t>(0, size - tile));
      break;
    }
    starts.push_back(s);
  }
  return starts;
}

// Bilinear sampling of feature rows: pixel i of a tile reads cells lo[i], hi[i] with weight a[i] on hi.
struct AxisSampling {
  std::vector<int64_t> lo, hi;
  std::vector<float> a;
};

AxisSampling axis_sampling(int64_t pixels, int64_t cells, int64_t stride) {
  AxisSampling s;
  for (int64_t i = 0; i < pixels; ++i) {
    const double f = std::clamp((static_cast<double>(i) + 0.5) / static_cast<double>(stride) - 0.5, 0.0,
                                static_cast<double>(cells - 1));
    const auto lo = static_cast<int64_t>(std::floor(f));
    s.lo.push_back(lo);
    s.hi.push_back(std::min(lo + 1, cells - 1));
    s.a.push_back(static_cast<float>(f - static_cast<double>(lo)));
  }
  return s;
}

// The blended per-pixel features of the whole raster: sum of w f and sum of w.
struct Accumulator {
  int64_t height = 0, width = 0, dim = 0;
  std::vector<float> sum;        // (H, W, D)
  std::vector<float> weight;     // (H, W)
  std::vector<uint8_t> invalid;  // (H, W): 1 where any band of the input is invalid
};

// Adds one tile's feature map fmap (fh, fw, D) at (y0, x0), upsampled to h x w pixels.
void accumulate(Accumulator& acc, const std::vector<double>& fmap, int64_t fh, int64_t fw, int64_t stride, int64_t y0,
                int64_t x0, int64_t h, int64_t w) {
  const AxisSampling sy = axis_sampling(h, fh, stride), sx = axis_sampling(w, fw, stride);
  const int64_t d = acc.dim;
  std::vector<float> row(static_cast<size_t>(d));
  for (int64_t ty = 0; ty < h; ++ty) {
    const double wy = blend_weight(ty, h);
    for (int64_t tx = 0; tx < w; ++tx) {
      const auto wt = static_cast<float>(wy * blend_weight(tx, w));
      const float ay = sy.a[static_cast<size_t>(ty)], ax = sx.a[static_cast<size_t>(tx)];
      const size_t c00 =
          static_cast<size_t>((sy.lo[static_cast<size_t>(ty)] * fw + sx.lo[static_cast<size_t>(tx)]) * d);
      const size_t c01 =
          static_cast<size_t>((sy.lo[static_cast<size_t>(ty)] * fw + sx.hi[static_cast<size_t>(tx)]) * d);
      const size_t c10 =
          static_cast<size_t>((sy.hi[static_cast<size_t>(ty)] * fw + sx.lo[static_cast<size_t>(tx)]) * d);
      const size_t c11 =
          static_cast<size_t>((sy.hi[static_cast<size_t>(ty)] * fw + sx.hi[static_cast<size_t>(tx)]) * d);
      const size_t p = static_cast<size_t>((y0 + ty) * acc.width + (x0 + tx));
      float* out = acc.sum.data() + p * static_cast<size_t>(d);
      for (int64_t k = 0; k < d; ++k) {
        const auto kk = static_cast<size_t>(k);
        const double top = (1.0 - ax) * fmap[c00 + kk] + ax * fmap[c01 + kk];
        const double bottom = (1.0 - ax) * fmap[c10 + kk] + ax * fmap[c11 + kk];
        out[k] += wt * static_cast<float>((1.0 - ay) * top + ay * bottom);
      }
      acc.weight[p] += wt;
    }
  }
}

// Marks pixels where any band the input holds (not a filled one) is invalid.
void mark_invalid(Accumulator& acc, const data::Raster& input, const std::vector<std::string>& lacking, int64_t y0,
                  int64_t x0) {
  std::vector<int64_t> held;
  for (int64_t k = 0; k < input.channels(); ++k)
    if (std::find(lacking.begin(), lacking.end(), input.bands[static_cast<size_t>(k)]) == lacking.end())
      held.push_back(k);
  for (int64_t y = 0; y < input.height; ++y)
    for (int64_t x = 0; x < input.width; ++x)
      for (int64_t k : held)
        if (input.valid[static_cast<size_t>((y * input.width + x) * input.channels() + k)] == 0)
          acc.invalid[static_cast<size_t>((y0 + y) * acc.width + x0 + x)] = 1;
}

#if RSD_HAVE_GDAL
std::string gdal_message() {
  const char* m = CPLGetLastErrorMsg();
  return m != nullptr && *m != '\0' ? str_cat(" (GDAL: ", m, ")") : std::string();
}

// Writes the blended features as a tiled, DEFLATE-compressed GeoTIFF with overviews, through a
// temporary file renamed into place.
void write_geotiff(const std::string& path, const Accumulator& acc, const data::GeoInfo& geo, DenseFormat format,
                   const std::vector<std::pair<std::string, std::string>>& metadata) {
  GDALAllRegister();
  GDALDriverH driver = GDALGetDriverByName("GTiff");
  RSD_CHECK(driver != nullptr, path, ": GDAL has no GTiff driver");
  const std::string tmp = str_cat(path, ".tmp.", ::getpid(), ".tif");
  const bool int8 = format == DenseFormat::int8;
  char** options = nullptr;
  options = CSLSetNameValue(options, "TILED", "YES");
  options = CSLSetNameValue(options, "COMPRESS", "DEFLATE");
  options = CSLSetNameValue(options, "BIGTIFF", "IF_SAFER");
  options = CSLSetNameValue(options, "INTERLEAVE", "PIXEL");
  if (int8) options = CSLSetNameValue(options, "PIXELTYPE", "SIGNEDBYTE");
  GDALDatasetH ds = GDALCreate(driver, tmp.c_str(), static_cast<int>(acc.width), static_cast<int>(acc.height),
                               static_cast<int>(acc.dim), int8 ? GDT_Byte : GDT_Float32, options);
  CSLDestroy(options);
  RSD_CHECK(ds != nullptr, tmp, ": cannot create the GeoTIFF", gdal_message());
  bool ok = true;
  if (geo.has_geotransform) {
    std::array<double, 6> gt = geo.geotransform;
    ok = ok && GDALSetGeoTransform(ds, gt.data()) == CE_None;
  }
  if (!geo.crs_wkt.empty()) ok = ok && GDALSetProjection(ds, geo.crs_wkt.c_str()) == CE_None;
  for (const auto& [key, value] : metadata)
    ok = ok && GDALSetMetadataItem(ds, key.c_str(), value.c_str(), nullptr) == CE_None;
  const int64_t pixels = acc.height * acc.width, d = acc.dim;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // Final values, pixel-interleaved (H, W, D): one RasterIO over every band.
  std::vector<float> values(static_cast<size_t>(int8 ? 0 : pixels * d));
  std::vector<int8_t> codes(static_cast<size_t>(int8 ? pixels * d : 0));
  for (int64_t p = 0; p < pixels && ok; ++p) {
    const float* s = acc.sum.data() + p * d;
    const float w = acc.weight[static_cast<size_t>(p)];
    const bool bad = acc.invalid[static_cast<size_t>(p)] != 0;
    if (!int8) {
      for (int64_t k = 0; k < d; ++k) values[static_cast<size_t>(p * d + k)] = bad ? nan : s[k] / w;
      continue;
    }
    double norm = 0;
    for (int64_t k = 0; k < d; ++k) norm += static_cast<double>(s[k]) * static_cast<double>(s[k]);
    norm = std::sqrt(norm);
    for (int64_t k = 0; k < d; ++k)
      codes[static_cast<size_t>(p * d + k)] =
          bad ? int8_t{-128} : quantize_unit(norm > 0 ? static_cast<float>(s[k] / norm) : 0.0f);
  }
  for (int b = 1; b <= d && ok; ++b) {
    GDALRasterBandH band = GDALGetRasterBand(ds, b);
    ok = band != nullptr && GDALSetRasterNoDataValue(band, int8 ? -128.0 : static_cast<double>(nan)) == CE_None;
  }
  void* data = int8 ? static_cast<void*>(codes.data()) : static_cast<void*>(values.data());
  const int bytes = int8 ? 1 : 4;
  ok =
      ok && GDALDatasetRasterIO(ds, GF_Write, 0, 0, static_cast<int>(acc.width), static_cast<int>(acc.height), data,
                                static_cast<int>(acc.width), static_cast<int>(acc.height),
                                int8 ? GDT_Byte : GDT_Float32, static_cast<int>(d), nullptr,
                                bytes * static_cast<int>(d), bytes * static_cast<int>(d * acc.width), bytes) == CE_None;
  // Overviews down to about 256 px (COG-style); nearest for codes, average for float features.
  std::vector<int> levels;
  for (int f = 2; std::max(acc.width, acc.height) / f >= 128; f *= 2) levels.push_back(f);
  if (ok && !levels.empty())
    ok = GDALBuildOverviews(ds, int8 ? "NEAREST" : "AVERAGE", static_cast<int>(levels.size()), levels.data(), 0,
                            nullptr, nullptr, nullptr) == CE_None;
  const std::string message = gdal_message();
  GDALClose(ds);
  if (!ok) {
    std::error_code ec;
    fs::remove(tmp, ec);
    fail(path, ": writing the GeoTIFF failed", message);
  }
  fs::rename(tmp, path);
}
#else
void write_geotiff(const std::string& path, const Accumulator&, const data::GeoInfo&, DenseFormat,
                   const std::vector<std::pair<std::string, std::string>>&) {
  fail(path, ": rsd embed --dense writes GeoTIFFs and needs a build with GDAL; this one has none");
}
#endif

}  // namespace

double blend_weight(int64_t i, int64_t n) {
  const double s = std::sin(kPi * (static_cast<double>(i) + 0.5) / static_cast<double>(n));
  return s * s;
}

int8_t quantize_unit(float v) {
  return static_cast<int8_t>(std::clamp(std::lround(static_cast<double>(v) * 127.0), -127L, 127L));
}

DenseFormat parse_dense_format(const std::string& name) {
  if (name == "float32") return DenseFormat::float32;
  if (name == "int8") return DenseFormat::int8;
  fail("dense format '", name, "': valid are float32, int8");
}

DenseResult embed_dense(const PretrainedEncoder& enc, const DenseOptions& options) {
  RSD_CHECK(!options.out.empty(), "rsd embed --dense: no output file given");
  const std::vector<std::string> bands = geotiff_band_names(options.input, options.raster_bands);
  const data::RasterInfo info = data::raster_info(options.input);
  const int64_t stride = enc.net->output_stride();
  const int64_t tile = options.tile > 0 ? options.tile : 8 * stride;
  const int64_t overlap = options.overlap >= 0 ? options.overlap : tile / 4;
  RSD_CHECK(overlap < tile, "rsd embed --dense: the overlap (", overlap, ") must be smaller than the tile (", tile,
            ")");
  const std::vector<int64_t> ys = tile_starts(info.height, tile, tile - overlap);
  const std::vector<int64_t> xs = tile_starts(info.width, tile, tile - overlap);
  bool s1_only = true;
  for (const std::string& b : bands) s1_only = s1_only && data::band_kind(b) == data::BandKind::s1_db;

  Accumulator acc;
  acc.height = info.height;
  acc.width = info.width;
  acc.dim = enc.net->feature_dim();
  acc.sum.assign(static_cast<size_t>(acc.height * acc.width * acc.dim), 0.0f);
  acc.weight.assign(static_cast<size_t>(acc.height * acc.width), 0.0f);
  acc.invalid.assign(acc.weight.size(), 0);

  DenseResult result;
  result.tiles = static_cast<int64_t>(ys.size() * xs.size());
  std::unique_ptr<ProgressBar> bar;
  if (options.progress) bar = std::make_unique<ProgressBar>("embed --dense", result.tiles);
  int64_t done = 0;
  const Device device = enc.params->device();
  for (int64_t y0 : ys) {
    for (int64_t x0 : xs) {
      const data::Window win{x0, y0, std::min(tile, info.width - x0), std::min(tile, info.height - y0)};
      data::Sample s;
      s.id = options.input;
      (s1_only ? s.s1 : s.s2) = data::read_raster(options.input, bands, win);
      std::vector<std::string> lacking;
      const data::Raster input = encoder_input(s, enc, &lacking);
      if (done == 0 && !lacking.empty()) {
        result.missing_bands = lacking;
        if (options.warnings)
          std::fprintf(stderr, "warning: %s lacks the encoder's band(s) %s: filled with their training mean\n",
                       options.input.c_str(), join(lacking).c_str());
      }
      mark_invalid(acc, input, lacking, y0, x0);
      Tensor x = Tensor::empty({1, input.height, input.width, input.channels()}, DType::f32);
      std::copy(input.pixels.begin(), input.pixels.end(), x.data<float>());
      if (device != Device::cpu()) x = to_device(x, device);
      Tensor fmap;
      {
        NoGradScope no_grad;
        fmap = enc.net->feature_map(x, false);  // (1, fh, fw, D)
      }
      accumulate(acc, fmap.to_host_doubles(), fmap.dim(1), fmap.dim(2), stride, y0, x0, input.height, input.width);
      if (bar) bar->update(++done, "");
    }
  }
  if (bar) bar->finish(str_cat(result.tiles, " tiles"));
  result.invalid_pixels = static_cast<int64_t>(std::count(acc.invalid.begin(), acc.invalid.end(), uint8_t{1}));
  const std::vector<std::pair<std::string, std::string>> metadata = {
      {"RSD_MODEL_ID", enc.model_id},
      {"RSD_ENCODER", str_cat(enc.method, " ", enc.which, " resnet", enc.net->config().depth, " ",
                              models::resnet_stem_name(enc.net->config().stem))},
      {"RSD_BANDS", nlohmann::json(enc.bands).dump()},
      {"RSD_MISSING_BANDS", nlohmann::json(result.missing_bands).dump()},
      {"RSD_STATISTICS", enc.statistics.to_json()},
      {"RSD_FORMAT", options.format == DenseFormat::int8 ? "int8 unit vectors: value / 127, -128 = nodata" : "float32"},
      {"RSD_TILE", str_cat(tile, " px, overlap ", overlap, " px")}};
  write_geotiff(options.out, acc, info.geo, options.format, metadata);
  result.path = options.out;
  result.height = acc.height;
  result.width = acc.width;
  result.dim = acc.dim;
  return result;
}

}  // namespace rsd::tools
