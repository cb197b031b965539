#include "models/downstream/embed_chips.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data/normalization.h"
#include "engine/atomic_file.h"
#include "engine/autograd.h"
#include "engine/npy.h"
#include "engine/ops/convert.h"
#include "engine/progress.h"
#include "models/downstream/embed_inputs.h"
#if RSD_HAVE_GDAL
#include <cpl_conv.h>
#include <ogr_srs_api.h>
#endif

namespace rsd::downstream {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

// Where one band of a sample lives: which raster, which channel.
struct BandSource {
  const data::Raster* raster = nullptr;
  int64_t channel = -1;
};

BandSource find_band(const data::Sample& s, const std::string& band) {
  for (const auto* r : {&s.s2, &s.s1}) {
    if (!*r) continue;
    const auto& names = (*r)->bands;
    const auto it = std::find(names.begin(), names.end(), band);
    if (it != names.end()) return {&**r, static_cast<int64_t>(it - names.begin())};
  }
  return {};
}

std::string sample_source(const data::Sample& s) {
  if (s.s2 && s.s1) return str_cat(s.s2->source, " + ", s.s1->source);
  return s.s2 ? s.s2->source : s.s1->source;
}

// The `picked` bands of the sample copied into one raster (raw values, not yet normalized).
data::Raster gather_bands(const data::Raster& grid, const std::vector<std::string>& picked,
                          const std::vector<BandSource>& from) {
  data::Raster r;
  r.bands = picked;
  r.height = grid.height;
  r.width = grid.width;
  r.geo = grid.geo;
  r.source = grid.source;
  const int64_t pixels = r.height * r.width, c_out = r.channels();
  r.pixels.resize(static_cast<size_t>(pixels * c_out));
  r.valid.resize(r.pixels.size());
  for (int64_t k = 0; k < c_out; ++k) {
    const data::Raster& src = *from[static_cast<size_t>(k)].raster;
    const int64_t c_in = src.channels(), ch = from[static_cast<size_t>(k)].channel;
    for (int64_t p = 0; p < pixels; ++p) {
      const auto o = static_cast<size_t>(p * c_out + k), i = static_cast<size_t>(p * c_in + ch);
      r.pixels[o] = src.pixels[i];
      r.valid[o] = src.valid.empty() ? 1 : src.valid[i];
      r.invalid_count += r.valid[o] == 0 ? 1 : 0;
    }
  }
  return r;
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (char ch : text) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return out + "\"";
}

std::string number(double v, int digits = 17) {
  std::ostringstream os;
  os << std::setprecision(digits) << v;
  return os.str();
}

// The share of the chip's values that are valid, over the bands it holds (not the filled ones).
double valid_fraction(const data::Raster& input, const std::vector<std::string>& lacking) {
  int64_t valid = 0, total = 0;
  const int64_t c = input.channels(), pixels = input.height * input.width;
  for (int64_t k = 0; k < c; ++k) {
    const std::string& band = input.bands[static_cast<size_t>(k)];
    if (std::find(lacking.begin(), lacking.end(), band) != lacking.end()) continue;
    for (int64_t p = 0; p < pixels; ++p) valid += input.valid[static_cast<size_t>(p * c + k)] != 0 ? 1 : 0;
    total += pixels;
  }
  return total > 0 ? static_cast<double>(valid) / static_cast<double>(total) : 0.0;
}

// The CRS as index.csv writes it: "EPSG:<code>" when GDAL identifies one, else the WKT.
std::string crs_text(const std::string& wkt) {
#if RSD_HAVE_GDAL
  if (wkt.empty()) return wkt;
  std::string out = wkt;
  OGRSpatialReferenceH srs = OSRNewSpatialReference(nullptr);
  if (OSRSetFromUserInput(srs, wkt.c_str()) == OGRERR_NONE) {
    OSRAutoIdentifyEPSG(srs);  // fills in the authority where the WKT lacks it; unidentified stays WKT
    const bool projected = OSRIsProjected(srs) != 0;
    const char* name = OSRGetAuthorityName(srs, projected ? "PROJCS" : "GEOGCS");
    const char* code = OSRGetAuthorityCode(srs, projected ? "PROJCS" : "GEOGCS");
    if (name != nullptr && code != nullptr && std::string(name) == "EPSG") out = str_cat("EPSG:", code);
  }
  OSRDestroySpatialReference(srs);
  return out;
#else
  return wkt;
#endif
}

// "minx,miny,maxx,maxy" of the raster's footprint from its geotransform; ",,," without one.
std::string bounds_text(const data::GeoInfo& geo, int64_t height, int64_t width) {
  if (!geo.has_geotransform) return ",,,";
  const auto& g = geo.geotransform;
  double minx = 1e300, miny = 1e300, maxx = -1e300, maxy = -1e300;
  for (const auto& [px, py] : {std::pair<int64_t, int64_t>{0, 0}, {width, 0}, {0, height}, {width, height}}) {
    const double x = g[0] + static_cast<double>(px) * g[1] + static_cast<double>(py) * g[2];
    const double y = g[3] + static_cast<double>(px) * g[4] + static_cast<double>(py) * g[5];
    minx = std::min(minx, x), maxx = std::max(maxx, x), miny = std::min(miny, y), maxy = std::max(maxy, y);
  }
  return str_cat(number(minx), ",", number(miny), ",", number(maxx), ",", number(maxy));
}

// Runs batches of equal-size encoder inputs and keeps their feature rows.
class FeatureBatcher {
 public:
  FeatureBatcher(const PretrainedEncoder& enc, int64_t batch) : enc_(enc), batch_(batch) {}

  void add(data::Raster input) {
    if (!pending_.empty() && (pending_[0].height != input.height || pending_[0].width != input.width)) flush();
    pending_.push_back(std::move(input));
    if (static_cast<int64_t>(pending_.size()) == batch_) flush();
  }

  void flush() {
    if (pending_.empty()) return;
    const data::Raster& first = pending_[0];
    const auto n = static_cast<int64_t>(pending_.size());
    // x: (n, H, W, C) normalized
    Tensor x = Tensor::empty({n, first.height, first.width, first.channels()}, DType::f32);
    float* dst = x.data<float>();
    for (const data::Raster& r : pending_) {
      std::memcpy(dst, r.pixels.data(), r.pixels.size() * sizeof(float));
      dst += r.pixels.size();
    }
    const Device device = enc_.params->device();
    if (device != Device::cpu()) x = to_device(x, device);
    const Tensor f = enc_.features(x);  // (n, D)
    dim_ = f.dim(1);
    for (double v : f.to_host_doubles()) rows_.push_back(static_cast<float>(v));
    pending_.clear();
  }

  int64_t dim() const { return dim_; }
  const std::vector<float>& rows() const { return rows_; }
  // Row i (after flush()) set to NaN: a chip with no valid value.
  void set_nan_row(int64_t i) {
    std::fill(rows_.begin() + i * dim_, rows_.begin() + (i + 1) * dim_, std::numeric_limits<float>::quiet_NaN());
  }

 private:
  const PretrainedEncoder& enc_;
  int64_t batch_;
  std::vector<data::Raster> pending_;
  std::vector<float> rows_;  // (N, D)
  int64_t dim_ = 0;
};

std::string metadata_json(const PretrainedEncoder& enc, const EmbedOptions& options, const EmbedResult& r,
                          const std::string& input_description) {
  const models::ResNetConfig& cfg = enc.net->config();
  json j;
  j["format"] = "rsd.embeddings";
  j["version"] = 1;
  j["model_id"] = enc.model_id;
  j["method"] = enc.method;
  j["encoder"] = enc.which;
  j["arch"] = str_cat("resnet", cfg.depth);
  j["stem"] = models::resnet_stem_name(cfg.stem);
  j["width"] = cfg.width;
  j["bands"] = enc.bands;
  j["statistics"] = json::parse(enc.statistics.to_json());
  j["dtype"] = options.dtype == DType::f16 ? "float16" : "float32";
  j["shape"] = {r.rows, r.dim};
  j["input"] = options.input;
  j["input_description"] = input_description;
  j["missing_bands"] = r.missing_bands;
  j["all_nodata_rows"] = r.all_nodata_rows;
  j["all_nodata_note"] =
      "rows of chips without one valid value (every pixel nodata or NaN): NaN in embeddings.npy; index.csv's "
      "valid_fraction is the share of each chip's values that are valid";
  return j.dump(2) + "\n";
}

void write_embeddings(const std::string& path, const std::vector<float>& rows, int64_t n, int64_t d, DType dtype) {
  Tensor t = Tensor::empty({n, d}, DType::f32);
  std::memcpy(t.data<float>(), rows.data(), rows.size() * sizeof(float));
  if (dtype == DType::f16) {
    NoGradScope no_grad;
    t = cast(t, DType::f16);
  }
  write_npy(path, t);
}

}  // namespace

DType parse_embedding_dtype(const std::string& name) {
  if (name == "float32") return DType::f32;
  if (name == "float16") return DType::f16;
  fail("embedding dtype '", name, "': valid are float32, float16");
}

data::Raster encoder_input(const data::Sample& sample, const PretrainedEncoder& enc,
                           std::vector<std::string>* missing) {
  RSD_CHECK(sample.s2 || sample.s1, "sample '", sample.id, "' holds no S1 or S2 raster");
  const data::Raster& grid = sample.s2 ? *sample.s2 : *sample.s1;
  if (sample.s2 && sample.s1)
    RSD_CHECK(sample.s1->height == grid.height && sample.s1->width == grid.width, sample_source(sample), ": S1 is ",
              sample.s1->height, " x ", sample.s1->width, " but S2 is ", grid.height, " x ", grid.width);
  std::vector<std::string> picked, lacking;
  std::vector<BandSource> from;
  for (const std::string& band : enc.bands) {
    const BandSource b = find_band(sample, band);
    if (b.raster == nullptr) {
      lacking.push_back(band);
    } else {
      picked.push_back(band);
      from.push_back(b);
    }
  }
  std::vector<std::string> held;
  for (const auto* r : {&sample.s2, &sample.s1})
    if (*r) held.insert(held.end(), (*r)->bands.begin(), (*r)->bands.end());
  RSD_CHECK(!picked.empty(), sample_source(sample), ": holds none of the encoder's bands (", join(enc.bands, ","),
            "); it has ", join(held, ","));
  data::Raster present = gather_bands(grid, picked, from);
  data::normalize(present, enc.statistics);
  // Missing bands stay 0: their training mean in standard units.
  data::Raster out;
  out.bands = enc.bands;
  out.height = grid.height;
  out.width = grid.width;
  out.geo = grid.geo;
  out.source = grid.source;
  const int64_t pixels = out.height * out.width, c_out = out.channels(), c_in = present.channels();
  out.pixels.assign(static_cast<size_t>(pixels * c_out), 0.0f);
  out.valid.assign(out.pixels.size(), 0);
  for (int64_t k = 0, j = 0; k < c_out; ++k) {
    if (j >= c_in || present.bands[static_cast<size_t>(j)] != out.bands[static_cast<size_t>(k)]) continue;
    for (int64_t p = 0; p < pixels; ++p) {
      out.pixels[static_cast<size_t>(p * c_out + k)] = present.pixels[static_cast<size_t>(p * c_in + j)];
      out.valid[static_cast<size_t>(p * c_out + k)] = present.valid[static_cast<size_t>(p * c_in + j)];
    }
    ++j;
  }
  out.invalid_count = static_cast<int64_t>(std::count(out.valid.begin(), out.valid.end(), uint8_t{0}));
  if (missing != nullptr) missing->insert(missing->end(), lacking.begin(), lacking.end());
  return out;
}

void check_embed_outputs(const EmbedOptions& options, uint64_t estimated_bytes, const std::string& size_note) {
  RSD_CHECK(!options.out_dir.empty(), "rsd embed: no output folder given (--out)");
  check_raster_band_names(options.raster_bands);
  check_output_dir(options.out_dir, "rsd embed --out", {"embeddings.npy", "index.csv", "embeddings.json"},
                   estimated_bytes, protected_inputs(options.input), size_note);
}

EmbedResult embed_chips(const PretrainedEncoder& enc, const EmbedOptions& options) {
  RSD_CHECK(options.dtype == DType::f32 || options.dtype == DType::f16,
            "rsd embed: --dtype must be float32 or float16");
  RSD_CHECK(options.batch >= 1, "rsd embed: --batch must be at least 1, got ", options.batch);
  check_embed_outputs(options);
  const ChipList chips = open_chips(options.input, options.raster_bands);
  {
    // What the outputs need, before any chip is embedded: N x D values, and index.csv's rows.
    const auto rows = static_cast<uint64_t>(chips.size), dim = static_cast<uint64_t>(enc.net->feature_dim());
    const uint64_t value_bytes = options.dtype == DType::f16 ? 2 : 4;
    const uint64_t per_row = 256 + 2 * static_cast<uint64_t>(chips.size > 0 ? chips.source(0).size() : 0);
    check_embed_outputs(options, rows * dim * value_bytes + rows * per_row + 65536,
                        str_cat(rows, " chips x ", dim, " ", value_bytes == 2 ? "float16" : "float32",
                                " features, and index.csv"));
  }
  std::error_code made;
  fs::create_directories(options.out_dir, made);
  RSD_CHECK(!made, "rsd embed --out ", options.out_dir, ": cannot make the folder: ", made.message());

  EmbedResult result;
  FeatureBatcher batcher(enc, options.batch);
  std::string index = "row,id,source,crs,minx,miny,maxx,maxy,label,valid_fraction\n";
  std::unique_ptr<ProgressBar> bar;
  if (options.progress) bar = std::make_unique<ProgressBar>("embed", chips.size);
  bool warned = false;
  std::map<std::string, std::string> crs_names;  // WKT -> index.csv's CRS text
  for (int64_t i = 0; i < chips.size; ++i) {
    const data::Sample sample = chips.load(i);
    std::vector<std::string> lacking;
    data::Raster input = encoder_input(sample, enc, &lacking);
    for (const std::string& b : lacking)
      if (std::find(result.missing_bands.begin(), result.missing_bands.end(), b) == result.missing_bands.end())
        result.missing_bands.push_back(b);
    if (!lacking.empty() && !warned && options.warnings) {
      std::fprintf(stderr, "warning: %s lacks the encoder's band(s) %s: filled with their training mean\n",
                   chips.source(i).c_str(), join(lacking, ",").c_str());
      warned = true;
    }
    auto crs = crs_names.find(input.geo.crs_wkt);
    if (crs == crs_names.end()) crs = crs_names.emplace(input.geo.crs_wkt, crs_text(input.geo.crs_wkt)).first;
    const double valid = valid_fraction(input, lacking);
    if (valid == 0.0) result.all_nodata_rows.push_back(i);
    index += str_cat(i, ",", csv_field(sample.id), ",", csv_field(chips.source(i)), ",", csv_field(crs->second), ",",
                     bounds_text(input.geo, input.height, input.width), ",", csv_field(chips.label(sample)), ",",
                     number(valid, 6), "\n");
    batcher.add(std::move(input));
    if (bar) bar->update(i + 1, "");
  }
  batcher.flush();
  if (bar) bar->finish(str_cat(chips.size, " chips"));
  // A chip without one valid value has no embedding: its row is NaN, never a vector that looks like data.
  for (int64_t i : result.all_nodata_rows) batcher.set_nan_row(i);
  if (!result.all_nodata_rows.empty() && options.warnings)
    std::fprintf(stderr,
                 "warning: %zu chip(s) have no valid value (every pixel nodata or NaN), the first %s: their rows "
                 "of embeddings.npy are NaN (valid_fraction 0 in index.csv, all_nodata_rows in embeddings.json)\n",
                 result.all_nodata_rows.size(), chips.source(result.all_nodata_rows.front()).c_str());

  result.rows = chips.size;
  result.dim = batcher.dim();
  const fs::path out(options.out_dir);
  result.embeddings = (out / "embeddings.npy").string();
  result.index = (out / "index.csv").string();
  result.metadata = (out / "embeddings.json").string();
  write_embeddings(result.embeddings, batcher.rows(), result.rows, result.dim, options.dtype);
  write_file_atomically(result.index, index);
  write_file_atomically(result.metadata, metadata_json(enc, options, result, chips.description));
  return result;
}

}  // namespace rsd::downstream
