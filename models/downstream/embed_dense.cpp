#include "models/downstream/embed_dense.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "data/gdal/raster_reader.h"
#include "data/normalization.h"
#include "engine/autograd.h"
#include "engine/ops/convert.h"
#include "engine/progress.h"
#include "models/downstream/dense_writer.h"
#include "models/downstream/embed_chips.h"
#include "models/downstream/embed_inputs.h"
#include "models/downstream/pca.h"
#include "models/downstream/seeded_stream.h"

namespace rsd::downstream {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kDefaultInt8Dims = 64;    // Google's Satellite Embedding dataset
constexpr int64_t kProjectionChunk = 1024;  // pixels per projection GEMM (1024 x D doubles)

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

// One tile through the encoder: its feature map and where its input is invalid.
struct TileFeatures {
  int64_t y0 = 0, x0 = 0, h = 0, w = 0;
  int64_t fh = 0, fw = 0;
  std::vector<double> fmap;      // (fh, fw, D)
  std::vector<uint8_t> invalid;  // (h, w): 1 where any band the input holds (not a filled one) is invalid
};

// Reads and embeds tiles of one raster; warns once (at construction) about bands the raster lacks.
class TileEmbedder {
 public:
  TileEmbedder(const PretrainedEncoder& enc, const DenseOptions& options, DenseResult& result)
      : enc_(enc), options_(options) {
    bands_ = geotiff_band_names(options.input, options.raster_bands);
    s1_only_ = true;
    for (const std::string& b : bands_) s1_only_ = s1_only_ && data::band_kind(b) == data::BandKind::s1_db;
    // The bands the raster lacks, from its first pixel, before any tile (the GeoTIFF's metadata
    // names them and is written first).
    std::vector<std::string> lacking;
    encoder_input(read(0, 0, 1, 1), enc_, &lacking);
    result.missing_bands = lacking;
    if (options_.warnings && !lacking.empty())
      std::fprintf(stderr, "warning: %s lacks the encoder's band(s) %s: filled with their training mean\n",
                   options_.input.c_str(), join(lacking).c_str());
  }

  TileFeatures embed(int64_t y0, int64_t x0, int64_t h, int64_t w) {
    TileFeatures t;
    t.y0 = y0;
    t.x0 = x0;
    t.h = h;
    t.w = w;
    std::vector<std::string> lacking;
    const data::Raster input = encoder_input(read(y0, x0, h, w), enc_, &lacking);
    std::vector<int64_t> held;
    for (int64_t k = 0; k < input.channels(); ++k)
      if (std::find(lacking.begin(), lacking.end(), input.bands[static_cast<size_t>(k)]) == lacking.end())
        held.push_back(k);
    t.invalid.assign(static_cast<size_t>(h * w), 0);
    for (int64_t p = 0; p < h * w; ++p)
      for (int64_t k : held)
        if (input.valid[static_cast<size_t>(p * input.channels() + k)] == 0) t.invalid[static_cast<size_t>(p)] = 1;
    Tensor x = Tensor::empty({1, input.height, input.width, input.channels()}, DType::f32);
    std::copy(input.pixels.begin(), input.pixels.end(), x.data<float>());
    const Device device = enc_.params->device();
    if (device != Device::cpu()) x = to_device(x, device);
    Tensor fmap;
    {
      NoGradScope no_grad;
      fmap = enc_.feature_map(x);  // (1, fh, fw, D)
    }
    t.fh = fmap.dim(1);
    t.fw = fmap.dim(2);
    t.fmap = fmap.to_host_doubles();
    return t;
  }

 private:
  data::Sample read(int64_t y0, int64_t x0, int64_t h, int64_t w) const {
    data::Sample s;
    s.id = options_.input;
    (s1_only_ ? s.s1 : s.s2) = data::read_raster(options_.input, bands_, data::Window{x0, y0, w, h});
    return s;
  }

  const PretrainedEncoder& enc_;
  const DenseOptions& options_;
  std::vector<std::string> bands_;
  bool s1_only_ = true;
};

// The tiles of the raster: origins and sizes.
struct TileGrid {
  std::vector<int64_t> ys, xs;
  int64_t tile = 0, height = 0, width = 0;
  int64_t h(size_t row) const { return std::min(tile, height - ys[row]); }
  int64_t w(size_t col) const { return std::min(tile, width - xs[col]); }
  int64_t count() const { return static_cast<int64_t>(ys.size() * xs.size()); }
};

// The PCA of the raster's own embeddings (see the header): a seeded sample of tiles, from each the
// same share of its valid pixels, their upsampled features.
Pca fit_raster_pca(TileEmbedder& embedder, const TileGrid& grid, int64_t stride, int64_t dim, int64_t k,
                   const DenseOptions& options, DenseResult& result, const std::function<void()>& tick) {
  SeededStream rng(options.seed);
  const auto total = static_cast<size_t>(grid.count());
  const auto chosen = static_cast<size_t>(std::clamp<int64_t>(options.pca_tiles, 1, grid.count()));
  std::vector<size_t> order(total);
  for (size_t i = 0; i < total; ++i) order[i] = i;
  for (size_t i = 0; i < chosen; ++i) std::swap(order[i], order[i + rng.below(total - i)]);  // partial Fisher-Yates
  order.resize(chosen);
  std::sort(order.begin(), order.end());  // read in raster order
  CovarianceSum sum(dim);
  std::vector<float> rows;
  for (size_t i_tile = 0; i_tile < chosen; ++i_tile) {
    // Tile i's share of the pixels: pca_pixels (i + 1) / chosen - pca_pixels i / chosen, which sums to pca_pixels.
    const auto n_chosen = static_cast<int64_t>(chosen), i = static_cast<int64_t>(i_tile);
    const int64_t share = options.pca_pixels * (i + 1) / n_chosen - options.pca_pixels * i / n_chosen;
    const size_t index = order[i_tile];
    const size_t row = index / grid.xs.size(), col = index % grid.xs.size();
    const TileFeatures t = embedder.embed(grid.ys[row], grid.xs[col], grid.h(row), grid.w(col));
    std::vector<int64_t> valid;
    for (int64_t p = 0; p < t.h * t.w; ++p)
      if (t.invalid[static_cast<size_t>(p)] == 0) valid.push_back(p);
    const auto take = static_cast<size_t>(std::min<int64_t>(share, static_cast<int64_t>(valid.size())));
    for (size_t j = 0; j < take; ++j) std::swap(valid[j], valid[j + rng.below(valid.size() - j)]);
    const AxisSampling sy = axis_sampling(t.h, t.fh, stride), sx = axis_sampling(t.w, t.fw, stride);
    rows.assign(take * static_cast<size_t>(dim), 0.0f);
    for (size_t j = 0; j < take; ++j)
      upsampled_feature(t.fmap, t.fw, dim, sy, sx, valid[j] / t.w, valid[j] % t.w,
                        rows.data() + j * static_cast<size_t>(dim));
    sum.add(rows.data(), static_cast<int64_t>(take));
    tick();
  }
  RSD_CHECK(sum.count() >= 2, options.input, ": the PCA sample (", chosen, " tiles) holds ", sum.count(),
            " valid pixel(s), too few to reduce ", dim, "-dimensional features to ", k,
            "; sample more tiles (--pca-tiles) or keep all dimensions (--format float32 without --dims)");
  Pca pca = fit_pca(sum, k);
  result.pca_samples = pca.samples;
  result.pca_tiles = static_cast<int64_t>(chosen);
  result.pca_explained = pca.explained;
  return pca;
}

// Turns finished rows of blended features into the GeoTIFF's values: float32 features or their
// projection (NaN = nodata), or int8 codes of the unit vector (-128 = nodata).
class RowEncoder {
 public:
  RowEncoder(int64_t width, int64_t dim, int64_t bands, bool int8, const Pca* pca)
      : width_(width), dim_(dim), bands_(bands), int8_(int8), pca_(pca) {
    features_.resize(static_cast<size_t>(width * dim));
    invalid_.resize(static_cast<size_t>(width));
    projected_.resize(static_cast<size_t>(std::min(width, kProjectionChunk) * bands));
    if (int8)
      codes_.resize(static_cast<size_t>(width * bands));
    else
      values_.resize(static_cast<size_t>(width * bands));
  }

  // Encodes row y of acc and hands it to the writer; returns its invalid pixels.
  int64_t write_row(const StripAccumulator& acc, int64_t y, DenseGeoTiffWriter& writer) {
    acc.finished_row(y, features_.data(), invalid_.data());
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (int64_t x0 = 0; x0 < width_; x0 += kProjectionChunk) {
      const int64_t n = std::min(kProjectionChunk, width_ - x0);
      if (pca_ != nullptr) pca_->project_rows(features_.data() + x0 * dim_, n, projected_.data());
      for (int64_t i = 0; i < n; ++i) {
        const int64_t x = x0 + i;
        const bool bad = invalid_[static_cast<size_t>(x)] != 0;
        const float* f = features_.data() + x * dim_;
        const double* pr = projected_.data() + i * bands_;
        const auto v = [&](int64_t k) { return pca_ != nullptr ? pr[k] : static_cast<double>(f[k]); };
        if (!int8_) {
          float* out = values_.data() + x * bands_;
          for (int64_t k = 0; k < bands_; ++k)
            out[k] = bad ? nan : (pca_ != nullptr ? static_cast<float>(pr[k]) : f[k]);
          continue;
        }
        int8_t* out = codes_.data() + x * bands_;
        double norm = 0;
        for (int64_t k = 0; k < bands_; ++k) norm += v(k) * v(k);
        norm = std::sqrt(norm);
        for (int64_t k = 0; k < bands_; ++k)
          out[k] = bad ? int8_t{-128} : quantize_unit(norm > 0 ? static_cast<float>(v(k) / norm) : 0.0f);
      }
    }
    if (int8_)
      writer.write_rows(codes_.data(), 1);
    else
      writer.write_rows(values_.data(), 1);
    return static_cast<int64_t>(std::count(invalid_.begin(), invalid_.end(), uint8_t{1}));
  }

 private:
  int64_t width_, dim_, bands_;
  bool int8_;
  const Pca* pca_;
  std::vector<float> features_;    // (W, D)
  std::vector<uint8_t> invalid_;   // (W,)
  std::vector<double> projected_;  // (chunk, bands)
  std::vector<float> values_;      // (W, bands)
  std::vector<int8_t> codes_;      // (W, bands)
};

std::string fixed(double v, int digits) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(digits) << v;
  return os.str();
}

}  // namespace

int8_t quantize_unit(float v) {
  return static_cast<int8_t>(std::clamp(std::lround(static_cast<double>(v) * 127.0), -127L, 127L));
}

DenseFormat parse_dense_format(const std::string& name) {
  if (name == "float32") return DenseFormat::float32;
  if (name == "int8") return DenseFormat::int8;
  fail("dense format '", name, "': valid are float32, int8");
}

std::string pca_sidecar_path(const std::string& out) { return fs::path(out).replace_extension(".pca.npy").string(); }

void check_dense_outputs(const DenseOptions& options, bool sidecar, uint64_t estimated_bytes,
                         const std::string& size_note) {
  RSD_CHECK(!options.out.empty(), "rsd embed --dense: no output file given (--out)");
  check_raster_band_names(options.raster_bands);
  const std::vector<ProtectedInput> inputs = {{options.input, "the input raster", false}};
  check_output_file(options.out, "rsd embed --dense --out", estimated_bytes, inputs, size_note);
  if (sidecar)
    check_output_file(pca_sidecar_path(options.out), str_cat("the PCA sidecar of --out ", options.out, ","), 0,
                      inputs);
}

DenseResult embed_dense(const PretrainedEncoder& enc, const DenseOptions& options) {
  RSD_CHECK(!options.out.empty(), "rsd embed --dense: no output file given");
  RSD_CHECK(options.dims >= 0, "rsd embed --dense: --dims ", options.dims, " must be positive (0: the default)");
  RSD_CHECK(options.strip_tile_rows >= 0, "rsd embed --dense: strip_tile_rows ", options.strip_tile_rows,
            " must be >= 0 (0: the whole raster)");
  const data::RasterInfo info = data::raster_info(options.input);
  const int64_t stride = enc.net->output_stride();
  const int64_t tile = options.tile > 0 ? options.tile : 8 * stride;
  const int64_t overlap = options.overlap >= 0 ? options.overlap : tile / 4;
  RSD_CHECK(overlap < tile, "rsd embed --dense: the overlap (", overlap, ") must be smaller than the tile (", tile,
            ")");
  TileGrid grid;
  grid.tile = tile;
  grid.height = info.height;
  grid.width = info.width;
  grid.ys = tile_starts(info.height, tile, tile - overlap);
  grid.xs = tile_starts(info.width, tile, tile - overlap);
  const bool int8 = options.format == DenseFormat::int8;
  const int64_t dim = enc.net->feature_dim();
  const int64_t wanted = options.dims > 0 ? options.dims : (int8 ? kDefaultInt8Dims : dim);
  const bool reduce = wanted < dim;
  if (reduce)
    RSD_CHECK(options.pca_pixels >= 2 && options.pca_tiles >= 1, "rsd embed --dense: the PCA sample needs ",
              "pca_pixels >= 2 (", options.pca_pixels, ") and pca_tiles >= 1 (", options.pca_tiles, ")");

  DenseResult result;
  result.tiles = grid.count();
  result.dim = dim;
  result.bands = reduce ? wanted : dim;
  {
    // Before any tile: the output's path, and room for it on its file system. The estimate is the
    // GeoTIFF before compression (DEFLATE saves little on features) with its overviews, plus the sidecar.
    auto pixels = static_cast<uint64_t>(info.width * info.height);
    for (int64_t f = 2; std::max(info.width, info.height) / f >= 128; f *= 2)
      pixels += static_cast<uint64_t>(((info.width + f - 1) / f) * ((info.height + f - 1) / f));
    const uint64_t sidecar = reduce ? static_cast<uint64_t>((1 + wanted) * dim * 8 + 128) : 0;
    const uint64_t bytes = pixels * static_cast<uint64_t>(result.bands) * (int8 ? 1 : 4) + sidecar + 65536;
    check_dense_outputs(options, reduce, bytes,
                        str_cat(info.width, " x ", info.height, " px x ", result.bands, int8 ? " int8" : " float32",
                                " bands with overviews, before compression", reduce ? ", and the PCA sidecar" : ""));
  }
  TileEmbedder embedder(enc, options, result);
  const int64_t pca_tiles = reduce ? std::min(options.pca_tiles, grid.count()) : 0;
  std::unique_ptr<ProgressBar> bar;
  if (options.progress) bar = std::make_unique<ProgressBar>("embed --dense", pca_tiles + result.tiles);
  int64_t done = 0;
  const auto tick = [&] {
    ++done;
    if (bar) bar->update(done, done <= pca_tiles ? "PCA sample" : "");
  };

  const fs::path parent = fs::path(options.out).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    fs::create_directories(parent, ec);
    RSD_CHECK(!ec, options.out, ": cannot create the output's folder ", parent.string(), ": ", ec.message());
  }
  std::optional<Pca> pca;
  if (reduce) {
    pca = fit_raster_pca(embedder, grid, stride, dim, wanted, options, result, tick);
    result.pca_path = pca_sidecar_path(options.out);
  }
  std::vector<std::pair<std::string, std::string>> metadata = {
      {"RSD_MODEL_ID", enc.model_id},
      {"RSD_ENCODER", str_cat(enc.method, " ", enc.which, " resnet", enc.net->config().depth, " ",
                              models::resnet_stem_name(enc.net->config().stem))},
      {"RSD_BANDS", nlohmann::json(enc.bands).dump()},
      {"RSD_MISSING_BANDS", nlohmann::json(result.missing_bands).dump()},
      {"RSD_STATISTICS", enc.statistics.to_json()},
      {"RSD_FORMAT", int8 ? "int8 unit vectors: value / 127, -128 = nodata"
                          : (reduce ? "float32 PCA projection, NaN = nodata" : "float32, NaN = nodata")},
      {"RSD_TILE", str_cat(tile, " px, overlap ", overlap, " px")},
      {"RSD_DIMS", std::to_string(result.bands)},
      {"RSD_PCA", reduce ? fs::path(result.pca_path).filename().string() : "none"}};
  if (reduce) {
    metadata.emplace_back("RSD_PCA_EXPLAINED", fixed(result.pca_explained, 6));
    metadata.emplace_back("RSD_PCA_SAMPLE",
                          str_cat(result.pca_samples, " pixels of ", result.pca_tiles, " tiles, seed ", options.seed,
                                  "; the sidecar is (1 + ", wanted, ", ", dim,
                                  ") float64, row 0 the mean, then the components: ", "y = (v - mean) @ components.T"));
  }
  DenseGeoTiffWriter writer(options.out, info.width, info.height, result.bands, int8, info.geo, metadata);
  StripAccumulator acc(info.width, dim);
  RowEncoder encoder(info.width, dim, result.bands, int8, pca ? &*pca : nullptr);
  const auto tile_rows = static_cast<int64_t>(grid.ys.size());
  const int64_t per_strip = options.strip_tile_rows > 0 ? options.strip_tile_rows : tile_rows;
  for (int64_t r0 = 0; r0 < tile_rows; r0 += per_strip) {
    const int64_t r1 = std::min(r0 + per_strip, tile_rows);
    const auto last = static_cast<size_t>(r1 - 1);
    acc.extend_to(grid.ys[last] + grid.h(last));
    for (int64_t r = r0; r < r1; ++r) {
      const auto row = static_cast<size_t>(r);
      for (size_t col = 0; col < grid.xs.size(); ++col) {
        const TileFeatures t = embedder.embed(grid.ys[row], grid.xs[col], grid.h(row), grid.w(col));
        acc.mark_invalid(t.invalid, t.y0, t.x0, t.h, t.w);
        acc.add_tile(t.fmap, t.fh, t.fw, stride, t.y0, t.x0, t.h, t.w);
        tick();
      }
    }
    // Rows above the next strip's first tile are final: no later tile reaches them.
    const int64_t final_end = r1 < tile_rows ? grid.ys[static_cast<size_t>(r1)] : info.height;
    for (int64_t y = acc.first_row(); y < final_end; ++y) result.invalid_pixels += encoder.write_row(acc, y, writer);
    acc.release_until(final_end);
  }
  // The sidecar goes in place between closing the GeoTIFF and renaming it, so that a failed run
  // never leaves a new sidecar beside an older GeoTIFF, nor a new GeoTIFF without its sidecar.
  writer.close();
  if (pca) write_pca_npy(result.pca_path, *pca);
  writer.commit();
  if (bar) bar->finish(str_cat(result.tiles, " tiles", reduce ? str_cat(" + ", pca_tiles, " for the PCA") : ""));
  result.path = options.out;
  result.height = info.height;
  result.width = info.width;
  result.peak_accumulator_values = acc.peak_values();
  return result;
}

}  // namespace rsd::downstream
