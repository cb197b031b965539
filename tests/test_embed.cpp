// `rsd embed` and `rsd export-weights` on the shipped real samples, with checkpoints from tiny
// pretraining runs: the .npy holds features() of each chip and opens in NumPy; index.csv describes
// each row; exported weights load strictly into torchvision's ResNet (tests/python/
// torchvision_embed.py, Debian's /usr/bin/python3) and give the same pooled features as `rsd
// embed` on the same normalized input; a raster lacking some bands is embedded with a warning;
// bad inputs fail with errors that name the file.
#include <doctest/doctest.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data/layouts.h"
#include "data/pack.h"
#include "engine/npy.h"
#include "engine/output_preflight.h"
#include "engine/safetensors.h"
#include "harness.h"
#include "models/downstream/embed_chips.h"
#include "models/downstream/embed_dense.h"
#include "models/downstream/embed_inputs.h"
#include "models/downstream/export_weights.h"
#include "models/downstream/pca.h"
#include "models/downstream/pca_eigen.h"
#include "models/downstream/seeded_stream.h"
#include "models/pretrain/config.h"
#include "models/pretrain/trainer.h"
#include "tests/test_paths.h"
#if RSD_HAVE_GDAL
#include "gdal_test_util.h"
#endif

using namespace rsd;
using test::max_relative_error;
namespace fs = std::filesystem;

using test::samples_dir;
using test::TempDir;

namespace {

constexpr bool kNoGdal = !RSD_HAVE_GDAL;
constexpr const char* kPython = "/usr/bin/python3";

// The checkpoint of a 2-step dual-contrastive run on data/samples/terramind-s1s2 (its S2 encoder
// reads the 13 L1C bands, as EuroSAT-MS and Sen1Floods11 hold them).
std::string tiny_checkpoint(const fs::path& out, int width, const std::string& stem) {
  const std::string text =
      str_cat("method = \"dual-contrastive\"\nseed = 5\ndevice = \"cpu\"\n", "[data]\npath = \"",
              (samples_dir() / "terramind-s1s2").string(), "\"\npatch_size = 16\nrepeat = 2\nworkers = 1\n",
              "[model]\narch = \"resnet18\"\nstem = \"", stem, "\"\nwidth = ", width, "\nprojector_hidden = 32\n",
              "projector_out = 16\n", "[train]\nbatch_size = 4\nsteps = 2\noptimizer = \"lars\"\nlr = 0.3\n",
              "[log]\nout_dir = \"", out.string(), "\"\nevery = 1\nprogress = false\n",
              "[checkpoint]\nevery = 2\nkeep_last = 1\n");
  pretrain::PretrainRunOptions quiet;
  quiet.quiet = true;
  const pretrain::PretrainResult r =
      pretrain::run_pretrain(pretrain::parse_pretrain_config(text, "<test_embed>"), quiet);
  REQUIRE(!r.checkpoint.empty());
  return r.checkpoint;
}

downstream::EmbedOptions embed_options(const fs::path& input, const fs::path& out) {
  downstream::EmbedOptions o;
  o.input = input.string();
  o.out_dir = out.string();
  o.progress = false;
  o.batch = 7;  // not a divisor of the chip count: the last batch is partial
  return o;
}

// Runs the Python client; returns its output. A failure fails the test with that output.
std::string run_python(const std::string& args) {
  REQUIRE_MESSAGE(fs::exists(kPython), kPython, " is missing: run tools/setup.sh (it installs python3-torchvision)");
  const fs::path script = fs::path(__FILE__).parent_path() / "python" / "torchvision_embed.py";
  const std::string command = str_cat(kPython, " '", script.string(), "' ", args, " 2>&1");
  std::FILE* pipe = popen(command.c_str(), "r");
  REQUIRE_MESSAGE(pipe != nullptr, "cannot run ", command);
  std::string output;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) output.append(buf, n);
  const int status = pclose(pipe);
  REQUIRE_MESSAGE(status == 0, "the Python client failed (", command, "). Output:\n", output);
  return output;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The fields of an index.csv line without quoted fields.
std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> fields(1);
  for (char ch : line) {
    if (ch == ',')
      fields.emplace_back();
    else
      fields.back() += ch;
  }
  return fields;
}

// The encoder inputs of every sample of a dataset folder, stacked: (N, H, W, C).
Tensor stacked_inputs(const data::Dataset& ds, const downstream::PretrainedEncoder& enc) {
  std::vector<data::Raster> inputs;
  for (const data::SampleRef& ref : ds.samples)
    inputs.push_back(downstream::encoder_input(data::load_sample(ref), enc, nullptr));
  const data::Raster& first = inputs.at(0);
  Tensor x =
      Tensor::empty({static_cast<int64_t>(inputs.size()), first.height, first.width, first.channels()}, DType::f32);
  float* dst = x.data<float>();
  for (const data::Raster& r : inputs) {
    std::copy(r.pixels.begin(), r.pixels.end(), dst);
    dst += r.pixels.size();
  }
  return x;
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

#if RSD_HAVE_GDAL
// A GeoTIFF written by embed --dense, read back with GDAL alone.
struct DenseFile {
  int width = 0, height = 0, bands = 0, overviews = 0;
  std::array<double, 6> geotransform{};
  std::string wkt, compression, model_id, statistics;
  std::string pca, dims, explained;  // RSD_PCA, RSD_DIMS, RSD_PCA_EXPLAINED
  std::vector<double> values;        // (bands, H, W); int8 files: the signed codes
};

DenseFile read_dense(const fs::path& path, bool int8) {
  GDALAllRegister();
  GDALDatasetH ds = GDALOpen(path.string().c_str(), GA_ReadOnly);
  REQUIRE_MESSAGE(ds != nullptr, "GDAL cannot open ", path.string());
  DenseFile f;
  f.width = GDALGetRasterXSize(ds);
  f.height = GDALGetRasterYSize(ds);
  f.bands = GDALGetRasterCount(ds);
  CHECK(GDALGetGeoTransform(ds, f.geotransform.data()) == CE_None);
  f.wkt = GDALGetProjectionRef(ds);
  const char* c = GDALGetMetadataItem(ds, "COMPRESSION", "IMAGE_STRUCTURE");
  f.compression = c != nullptr ? c : "";
  const char* m = GDALGetMetadataItem(ds, "RSD_MODEL_ID", nullptr);
  f.model_id = m != nullptr ? m : "";
  const char* st = GDALGetMetadataItem(ds, "RSD_STATISTICS", nullptr);
  f.statistics = st != nullptr ? st : "";
  for (auto [key, field] : {std::pair{"RSD_PCA", &f.pca}, {"RSD_DIMS", &f.dims}, {"RSD_PCA_EXPLAINED", &f.explained}}) {
    const char* v = GDALGetMetadataItem(ds, key, nullptr);
    *field = v != nullptr ? v : "";
  }
  f.overviews = GDALGetOverviewCount(GDALGetRasterBand(ds, 1));
  // Every band in one call: band by band, GDAL would decompress each pixel-interleaved block once per band.
  const size_t plane = static_cast<size_t>(f.width) * static_cast<size_t>(f.height);
  f.values.resize(plane * static_cast<size_t>(f.bands));
  std::vector<uint8_t> bytes(int8 ? f.values.size() : 0);
  void* buffer = int8 ? static_cast<void*>(bytes.data()) : static_cast<void*>(f.values.data());
  REQUIRE(GDALDatasetRasterIO(ds, GF_Read, 0, 0, f.width, f.height, buffer, f.width, f.height,
                              int8 ? GDT_Byte : GDT_Float64, f.bands, nullptr, 0, 0, 0) == CE_None);
  for (size_t i = 0; i < bytes.size(); ++i) f.values[i] = static_cast<int8_t>(bytes[i]);
  GDALClose(ds);
  return f;
}

// The PCA projection y = components (v - mean) of every valid pixel of a full-D float32 file f,
// with the sidecar's (1 + k, D) table; (k, H, W) like DenseFile::values, NaN where f is NaN.
std::vector<double> project_file(const DenseFile& f, const Tensor& table) {
  const int64_t k = table.dim(0) - 1, d = table.dim(1);
  REQUIRE(d == f.bands);
  const std::vector<double> t = table.to_host_doubles();
  const size_t plane = static_cast<size_t>(f.width) * static_cast<size_t>(f.height);
  std::vector<double> out(plane * static_cast<size_t>(k));
  for (size_t p = 0; p < plane; ++p)
    for (int64_t j = 0; j < k; ++j) {
      double y = 0;
      for (int64_t c = 0; c < d; ++c)
        y += t[static_cast<size_t>((1 + j) * d + c)] *
             (f.values[plane * static_cast<size_t>(c) + p] - t[static_cast<size_t>(c)]);
      out[plane * static_cast<size_t>(j) + p] = y;
    }
  return out;
}

// Runs a shell command; returns its status and output (stdout and stderr).
std::pair<int, std::string> run_command(const std::string& command) {
  std::FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  REQUIRE_MESSAGE(pipe != nullptr, "cannot run ", command);
  std::string output;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) output.append(buf, n);
  return {pclose(pipe), output};
}
#endif

// A seeded random orthogonal matrix (n, n), rows orthonormal: Gram-Schmidt (twice) of uniform rows.
std::vector<double> random_orthogonal(int64_t n, uint64_t seed) {
  downstream::SeededStream rng(seed);
  std::vector<double> q(static_cast<size_t>(n * n));
  for (double& x : q) x = static_cast<double>(rng.next() >> 11) / 9007199254740992.0 - 0.5;
  for (int64_t i = 0; i < n; ++i) {
    double* qi = q.data() + i * n;
    for (int pass = 0; pass < 2; ++pass)
      for (int64_t j = 0; j < i; ++j) {
        const double* qj = q.data() + j * n;
        double c = 0;
        for (int64_t t = 0; t < n; ++t) c += qi[t] * qj[t];
        for (int64_t t = 0; t < n; ++t) qi[t] -= c * qj[t];
      }
    double norm = 0;
    for (int64_t t = 0; t < n; ++t) norm += qi[t] * qi[t];
    for (int64_t t = 0; t < n; ++t) qi[t] /= std::sqrt(norm);
  }
  return q;
}

// sum_i values[i] q_i q_i^T over the rows q_i of q: a symmetric matrix with known eigenpairs.
std::vector<double> with_eigenpairs(const std::vector<double>& q, const std::vector<double>& values, int64_t n) {
  std::vector<double> a(static_cast<size_t>(n * n), 0.0);
  for (size_t i = 0; i < values.size(); ++i)
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c = 0; c < n; ++c)
        a[static_cast<size_t>(r * n + c)] += values[i] * q[i * static_cast<size_t>(n) + static_cast<size_t>(r)] *
                                             q[i * static_cast<size_t>(n) + static_cast<size_t>(c)];
  return a;
}

// max |V V^T - I| over the rows of v (m, n).
double orthonormality_error(const std::vector<double>& v, int64_t m, int64_t n) {
  double worst = 0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < m; ++j) {
      double d = 0;
      for (int64_t t = 0; t < n; ++t) d += v[static_cast<size_t>(i * n + t)] * v[static_cast<size_t>(j * n + t)];
      worst = std::max(worst, std::fabs(d - (i == j ? 1.0 : 0.0)));
    }
  return worst;
}

// max_i |A v_i - values[i] v_i| over the eigenpairs of e, for the (n, n) matrix a.
double eigen_residual(const downstream::SymmetricEigen& e, const std::vector<double>& a, int64_t n) {
  double worst = 0;
  for (int64_t i = 0; i < e.count(); ++i) {
    const double* v = e.vectors.data() + i * n;
    double s = 0;
    for (int64_t r = 0; r < n; ++r) {
      double av = 0;
      for (int64_t c = 0; c < n; ++c) av += a[static_cast<size_t>(r * n + c)] * v[c];
      const double d = av - e.values[static_cast<size_t>(i)] * v[r];
      s += d * d;
    }
    worst = std::max(worst, std::sqrt(s));
  }
  return worst;
}

// Checks an eigensolver's result for the symmetric (n, n) matrix a against its known eigenpairs
// (q's rows, values descending and distinct): eigenvalues to rel_tol of the largest, each vector
// parallel to its q row, A v = lambda v to 1e-12 of the largest, the vectors orthonormal.
void check_eigenpairs(const downstream::SymmetricEigen& e, const std::vector<double>& a, const std::vector<double>& q,
                      const std::vector<double>& values, int64_t n, double rel_tol) {
  REQUIRE(e.count() <= static_cast<int64_t>(values.size()));
  const double scale = std::fabs(values[0]);
  for (int64_t i = 0; i < e.count(); ++i) {
    CAPTURE(i);
    CHECK(std::fabs(e.values[static_cast<size_t>(i)] - values[static_cast<size_t>(i)]) <= rel_tol * scale);
    double d = 0;
    for (int64_t t = 0; t < n; ++t) d += e.vectors[static_cast<size_t>(i * n + t)] * q[static_cast<size_t>(i * n + t)];
    CHECK(std::fabs(std::fabs(d) - 1.0) <= 1e-9);
  }
  CHECK(eigen_residual(e, a, n) <= 1e-12 * scale);
  CHECK(orthonormality_error(e.vectors, e.count(), n) <= 1e-12);
}

}  // namespace

TEST_SUITE("downstream") {
  TEST_CASE("embed: a dataset folder's embeddings equal features() of each chip, and index.csv describes them" *
            doctest::skip(kNoGdal)) {
    TempDir dir;
    const std::string ckpt = tiny_checkpoint(dir.path() / "run", 8, "small-patch");
    const downstream::PretrainedEncoder enc = downstream::load_pretrained_encoder(ckpt, "s2", {}, Device::cpu());
    const fs::path eurosat = samples_dir() / "eurosat-ms-subset";
    const downstream::EmbedResult r = downstream::embed_chips(enc, embed_options(eurosat, dir.path() / "emb"));
    const data::Dataset ds = data::discover(eurosat.string());
    const auto n = static_cast<int64_t>(ds.samples.size());
    CHECK(r.rows == n);
    CHECK(r.dim == 64);  // resnet18 at width 8
    CHECK(r.missing_bands.empty());
    CHECK(r.all_nodata_rows.empty());

    const Tensor e = read_npy(r.embeddings);
    REQUIRE(e.shape() == Shape{n, 64});
    CHECK(e.dtype() == DType::f32);
    CHECK(run_python(str_cat("shape --npy '", r.embeddings, "'")) == str_cat("float32 ", n, ",64\n"));
    // Every row against features() of the stacked inputs (one batch, unlike embed's batches of 7).
    const std::vector<double> want = enc.features(stacked_inputs(ds, enc)).to_host_doubles();
    CHECK(max_relative_error(want, e.to_host_doubles()) < 1e-5);

    const std::vector<std::string> lines = read_lines(r.index);
    REQUIRE(static_cast<int64_t>(lines.size()) == n + 1);
    CHECK(lines[0] == "row,id,source,crs,minx,miny,maxx,maxy,label,valid_fraction");
    for (int64_t i : {int64_t{0}, n / 2, n - 1}) {
      const data::SampleRef& ref = ds.samples[static_cast<size_t>(i)];
      const std::string& line = lines[static_cast<size_t>(i + 1)];
      CAPTURE(line);
      CHECK(line.rfind(str_cat(i, ",", ref.id, ",", ref.s2.at(0).path, ",EPSG:326"), 0) == 0);  // UTM north
      // Bounds: the footprint from the file's geotransform (north up: origin at the top left).
      const std::vector<std::string> f = split_csv(line);
      REQUIRE(f.size() == 10);
      CHECK(f[8] == ds.classes.at(static_cast<size_t>(ref.label.class_index)));
      CHECK(f[9] == "1");  // every value of the chip valid
      const auto& g = data::raster_info(ref.s2.at(0).path).geo.geotransform;
      CHECK(std::stod(f[4]) == doctest::Approx(g[0]));
      CHECK(std::stod(f[5]) == doctest::Approx(g[3] + 64 * g[5]));
      CHECK(std::stod(f[6]) == doctest::Approx(g[0] + 64 * g[1]));
      CHECK(std::stod(f[7]) == doctest::Approx(g[3]));
    }

    const nlohmann::json meta = nlohmann::json::parse(std::ifstream(r.metadata));
    CHECK(meta.at("model_id") == enc.model_id);
    CHECK(meta.at("bands").get<std::vector<std::string>>() == enc.bands);
    CHECK(meta.at("dtype") == "float32");
    CHECK(meta.at("shape") == nlohmann::json({n, 64}));
    CHECK(data::BandStatistics::from_json(meta.at("statistics").dump()) == enc.statistics);
    CHECK(meta.at("all_nodata_rows").empty());
  }

  TEST_CASE("embed: a packed shard dataset gives the same rows as its source folder" * doctest::skip(kNoGdal)) {
    TempDir dir;
    const std::string ckpt = tiny_checkpoint(dir.path() / "run", 8, "small-patch");
    const downstream::PretrainedEncoder enc = downstream::load_pretrained_encoder(ckpt, "s2", {}, Device::cpu());
    const fs::path places = samples_dir() / "terramind-s1s2";
    data::PackCommand pack;
    pack.src = places.string();
    pack.out = (dir.path() / "shards").string();
    pack.progress = false;
    data::pack_dataset(pack);
    const downstream::EmbedResult folder = downstream::embed_chips(enc, embed_options(places, dir.path() / "folder"));
    const downstream::EmbedResult shards =
        downstream::embed_chips(enc, embed_options(pack.out, dir.path() / "from_shards"));
    REQUIRE(shards.rows == folder.rows);
    CHECK(max_relative_error(read_npy(folder.embeddings).to_host_doubles(),
                             read_npy(shards.embeddings).to_host_doubles()) < 1e-6);
    const std::vector<std::string> a = read_lines(folder.index), b = read_lines(shards.index);
    REQUIRE(a.size() == b.size());
    for (size_t i = 1; i < a.size(); ++i) {
      // Same row, id, CRS and bounds; the source is the shard dataset's index instead of the files.
      std::vector<std::string> fa = split_csv(a[i]), fb = split_csv(b[i]);
      REQUIRE(fa.size() == 10);
      REQUIRE(fb.size() == 10);
      fa.erase(fa.begin() + 2);
      fb.erase(fb.begin() + 2);
      CHECK(fa == fb);
      CHECK(fa[2].rfind("EPSG:", 0) == 0);
      CHECK(b[i].find(pack.out) != std::string::npos);
    }
  }

#if RSD_HAVE_GDAL  // GeoTIFFs written with GDAL (tests/gdal_test_util.h)
  TEST_CASE("embed: float16 output, and a raster lacking some bands is embedded with them filled" *
            doctest::skip(kNoGdal)) {
    TempDir dir;
    const std::string ckpt = tiny_checkpoint(dir.path() / "run", 8, "small-patch");
    const downstream::PretrainedEncoder enc = downstream::load_pretrained_encoder(ckpt, "s2", {}, Device::cpu());

    // The Sen1Floods11 S2 chip: band names from its band descriptions.
    downstream::EmbedOptions half =
        embed_options(samples_dir() / "sen1floods11" / "Spain_7370579_S2Hand.tif", dir.path() / "f16");
    half.dtype = DType::f16;
    const downstream::EmbedResult h = downstream::embed_chips(enc, half);
    const Tensor e16 = read_npy(h.embeddings);
    CHECK(e16.dtype() == DType::f16);
    CHECK(e16.shape() == Shape{1, 64});
    CHECK(run_python(str_cat("shape --npy '", h.embeddings, "'")) == "float16 1,64\n");
    CHECK(h.missing_bands.empty());

    // Four of the 13 bands, named with --raster-bands: the other nine are missing.
    const fs::path tif = dir.path() / "four_bands.tif";
    test::TifSpec spec;
    spec.width = spec.height = 24;
    spec.bands = 4;
    spec.value = [](int b, int y, int x) { return 800.0 + 300.0 * b + 7.0 * ((y * 5 + x * 3) % 11); };
    test::write_tif(tif, spec);
    const std::vector<std::string> four = {"B02", "B03", "B04", "B08"};
    downstream::EmbedOptions partial = embed_options(tif, dir.path() / "partial");
    partial.raster_bands = four;
    partial.warnings = false;
    const downstream::EmbedResult p = downstream::embed_chips(enc, partial);
    CHECK(p.rows == 1);
    CHECK(p.missing_bands.size() == enc.bands.size() - 4);
    for (const std::string& b : four)
      CHECK(std::find(p.missing_bands.begin(), p.missing_bands.end(), b) == p.missing_bands.end());

    // What embed fed the encoder: the 4 bands normalized, the others 0.
    data::Sample s;
    s.id = "four";
    s.s2 = data::read_raster(tif.string(), four);
    std::vector<std::string> missing;
    const data::Raster in = downstream::encoder_input(s, enc, &missing);
    CHECK(missing == p.missing_bands);
    data::Raster four_normalized = data::read_raster(tif.string(), four);
    data::normalize(four_normalized, enc.statistics);
    for (size_t k = 0; k < enc.bands.size(); ++k) {
      const auto it = std::find(four.begin(), four.end(), enc.bands[k]);
      const int64_t c = it == four.end() ? -1 : it - four.begin();
      CAPTURE(enc.bands[k]);
      CHECK(in.at(5, 9, static_cast<int64_t>(k)) == (c < 0 ? 0.0f : four_normalized.at(5, 9, c)));
    }
    Tensor x = Tensor::empty({1, in.height, in.width, in.channels()}, DType::f32);
    std::copy(in.pixels.begin(), in.pixels.end(), x.data<float>());
    CHECK(max_relative_error(enc.features(x).to_host_doubles(), read_npy(p.embeddings).to_host_doubles()) < 1e-5);
  }

  TEST_CASE("embed and export-weights: errors name the file" * doctest::skip(kNoGdal)) {
    TempDir dir;
    const fs::path bad = dir.path() / "not_a_checkpoint.safetensors";
    std::ofstream(bad) << "this is not a safetensors file";
    const std::string not_ckpt =
        error_of([&] { downstream::load_pretrained_encoder(bad.string(), "", {}, Device::cpu()); });
    CHECK(not_ckpt.find(bad.string()) != std::string::npos);
    CHECK(error_of([&] {
            downstream::export_weights(bad.string(), (dir.path() / "w.safetensors").string(), "", {});
          }).find(bad.string()) != std::string::npos);

    const std::string ckpt = tiny_checkpoint(dir.path() / "run", 8, "small-patch");
    const downstream::PretrainedEncoder enc = downstream::load_pretrained_encoder(ckpt, "s2", {}, Device::cpu());
    const fs::path sar = dir.path() / "sar.tif";
    test::TifSpec spec;
    spec.bands = 2;
    spec.type = GDT_Float32;
    spec.value = [](int b, int y, int x) { return -12.0 - 5.0 * b + 0.1 * (y + x); };
    test::write_tif(sar, spec);
    downstream::EmbedOptions o = embed_options(sar, dir.path() / "none");
    o.raster_bands = {"VV", "VH"};
    const std::string none = error_of([&] { downstream::embed_chips(enc, o); });
    CHECK(none.find(sar.string()) != std::string::npos);
    CHECK(none.find("none of the encoder's bands") != std::string::npos);
    // Its band descriptions are empty: without --raster-bands the error asks for them.
    o.raster_bands.clear();
    const std::string unnamed = error_of([&] { downstream::embed_chips(enc, o); });
    CHECK(unnamed.find(sar.string()) != std::string::npos);
    CHECK(unnamed.find("--raster-bands") != std::string::npos);
    o.input = (dir.path() / "absent").string();
    CHECK(error_of([&] { downstream::embed_chips(enc, o); }).find(o.input) != std::string::npos);
  }

  TEST_CASE("embed --dense: a GeoTIFF on the source's grid, blended tiles, int8 64-d PCA within its bound" *
            doctest::skip(kNoGdal)) {
    TempDir dir;
    // Width 16: D = 128 features, more than the 64 dimensions int8 keeps, so int8 goes through PCA.
    const std::string ckpt = tiny_checkpoint(dir.path() / "run", 16, "small-patch");
    const downstream::PretrainedEncoder enc = downstream::load_pretrained_encoder(ckpt, "s2", {}, Device::cpu());
    constexpr int kD = 128;
    const fs::path chip = samples_dir() / "sen1floods11" / "Spain_7370579_S2Hand.tif";
    downstream::DenseOptions o;
    o.input = chip.string();
    o.out = (dir.path() / "dense.tif").string();
    o.tile = 128;
    o.overlap = 32;
    o.progress = false;
    o.pca_tiles = 9;  // of 25: the sample is drawn, not the whole raster
    const downstream::DenseResult r = downstream::embed_dense(enc, o);
    CHECK(r.tiles == 25);  // origins 0, 96, 192, 288, 384 on each axis
    CHECK(r.dim == kD);
    CHECK(r.bands == kD);  // float32 keeps every feature
    CHECK(r.pca_path.empty());
    const DenseFile f = read_dense(o.out, false);
    const data::RasterInfo src = data::raster_info(chip.string());
    CHECK(f.width == src.width);
    CHECK(f.height == src.height);
    CHECK(f.bands == kD);
    for (size_t i = 0; i < 6; ++i) CHECK(f.geotransform[i] == src.geo.geotransform[i]);
    CHECK(data::same_crs(f.wkt, src.geo.crs_wkt));
    CHECK(f.compression == "DEFLATE");
    CHECK(f.overviews >= 1);
    CHECK(f.model_id == enc.model_id);
    CHECK(data::BandStatistics::from_json(f.statistics) == enc.statistics);
    CHECK(f.pca == "none");
    CHECK(f.dims == std::to_string(kD));

    // Pixel (10, 13) lies in tile (0, 0) alone: the bilinear upsampling of that tile's feature map
    // (stride 8: row 10 -> cell 0.8125, column 13 -> cell 1.1875).
    data::Sample s;
    s.s2 = data::read_raster(chip.string(), downstream::geotiff_band_names(chip.string(), {}),
                             data::Window{0, 0, 128, 128});
    const data::Raster in = downstream::encoder_input(s, enc, nullptr);
    Tensor x = Tensor::empty({1, 128, 128, in.channels()}, DType::f32);
    std::copy(in.pixels.begin(), in.pixels.end(), x.data<float>());
    const std::vector<double> fmap = enc.net->feature_map(x, false).to_host_doubles();  // (1, 16, 16, D)
    const auto cell = [&](int cy, int cx, int k) { return fmap[static_cast<size_t>((cy * 16 + cx) * kD + k)]; };
    const size_t plane = static_cast<size_t>(f.width) * static_cast<size_t>(f.height);
    std::vector<double> want, got;
    for (int k = 0; k < kD; ++k) {
      const double top = 0.8125 * cell(0, 1, k) + 0.1875 * cell(0, 2, k);
      const double bottom = 0.8125 * cell(1, 1, k) + 0.1875 * cell(1, 2, k);
      want.push_back(0.1875 * top + 0.8125 * bottom);
      got.push_back(f.values[plane * static_cast<size_t>(k) + static_cast<size_t>(10 * f.width + 13)]);
    }
    CHECK(max_relative_error(want, got) < 1e-4);

    // int8: 64 bands, the PCA projection of each pixel normalized, |y - q / 127| <= 0.5 / 127;
    // -128 exactly where float32 is NaN. The sidecar opens in NumPy: (1 + 64, D) float64.
    o.format = downstream::DenseFormat::int8;
    o.out = (dir.path() / "dense_int8.tif").string();
    const downstream::DenseResult qr = downstream::embed_dense(enc, o);
    CHECK(qr.bands == 64);
    CHECK(qr.pca_path == (dir.path() / "dense_int8.pca.npy").string());
    CHECK(qr.pca_tiles == 9);
    CHECK(qr.pca_samples == 50000);  // 50000 / 9 of each tile's pixels (the chip has no holes)
    CHECK(qr.pca_explained > 0.0);
    CHECK(qr.pca_explained <= 1.0 + 1e-12);
    const DenseFile q = read_dense(o.out, true);
    CHECK(q.bands == 64);
    CHECK(q.pca == "dense_int8.pca.npy");
    CHECK(q.dims == "64");
    CHECK(std::stod(q.explained) == doctest::Approx(qr.pca_explained).epsilon(1e-5));
    const Tensor table = read_npy(qr.pca_path);
    REQUIRE(table.shape() == Shape{65, kD});
    CHECK(table.dtype() == DType::f64);
    const std::vector<double> t = table.to_host_doubles();
    CHECK(orthonormality_error(std::vector<double>(t.begin() + kD, t.end()), 64, kD) <= 1e-5);
    const auto [status, numpy] = run_command(str_cat(kPython, " -c 'import numpy as np; t = np.load(\"", qr.pca_path,
                                                     "\"); mean, c = t[0], t[1:]; print(t.dtype, mean.shape, c.shape, "
                                                     "bool(np.abs(c @ c.T - np.eye(64)).max() < 1e-5))'"));
    CHECK_MESSAGE(status == 0, numpy);
    CHECK(numpy == str_cat("float64 (", kD, ",) (64, ", kD, ") True\n"));

    const std::vector<double> y = project_file(f, table);  // (64, H, W)
    double worst = 0;
    int64_t nodata = 0, misplaced_nodata = 0;
    for (size_t p = 0; p < plane; ++p) {
      double norm = 0;
      for (int k = 0; k < 64; ++k)
        norm += y[plane * static_cast<size_t>(k) + p] * y[plane * static_cast<size_t>(k) + p];
      norm = std::sqrt(norm);
      const bool invalid = std::isnan(norm);
      nodata += invalid ? 1 : 0;
      for (int k = 0; k < 64; ++k) {
        const double code = q.values[plane * static_cast<size_t>(k) + p];
        misplaced_nodata += invalid != (code == -128) ? 1 : 0;
        if (!invalid) worst = std::max(worst, std::fabs(y[plane * static_cast<size_t>(k) + p] / norm - code / 127.0));
      }
    }
    CHECK(misplaced_nodata == 0);
    MESSAGE("int8 worst error ", worst, " (bound ", 0.5 / 127, "), nodata pixels ", nodata, ", PCA explained ",
            qr.pca_explained);
    CHECK(nodata == r.invalid_pixels);
    CHECK(worst <= 0.5 / 127 + 1e-5);  // + the float32 rounding of the stored features

    // float32 --dims 64: the projection itself, equal to the one computed here from the full-D file
    // and the sidecar (the same seed draws the same sample, so the same components).
    o.format = downstream::DenseFormat::float32;
    o.dims = 64;
    o.out = (dir.path() / "dense_64.tif").string();
    const downstream::DenseResult pr = downstream::embed_dense(enc, o);
    CHECK(pr.bands == 64);
    const DenseFile p64 = read_dense(o.out, false);
    REQUIRE(p64.bands == 64);
    CHECK(p64.pca == "dense_64.pca.npy");
    CHECK(read_npy(pr.pca_path).to_host_doubles() == t);
    const std::vector<double> y64 = project_file(f, read_npy(pr.pca_path));
    std::vector<double> want64, got64;
    int64_t nan_mismatches = 0;
    for (size_t i = 0; i < y64.size(); ++i) {
      nan_mismatches += std::isnan(y64[i]) != std::isnan(p64.values[i]) ? 1 : 0;
      if (std::isnan(y64[i])) continue;
      want64.push_back(y64[i]);
      got64.push_back(p64.values[i]);
    }
    CHECK(nan_mismatches == 0);
    CHECK(max_relative_error(want64, got64) < 1e-4);
  }

  TEST_CASE("embed --dense: strips of one tile row give the whole raster's output and hold W x tile x D floats" *
            doctest::skip(kNoGdal)) {
    TempDir dir;
    const std::string ckpt = tiny_checkpoint(dir.path() / "run", 8, "small-patch");  // D = 64
    const downstream::PretrainedEncoder enc = downstream::load_pretrained_encoder(ckpt, "s2", {}, Device::cpu());
    // 300 rows: 19 rows of tiles, and more than one row of the GeoTIFF's 256-pixel blocks.
    const fs::path tif = dir.path() / "tall.tif";
    test::TifSpec spec;
    spec.width = 40;
    spec.height = 300;
    spec.bands = 4;
    spec.nodata = 0.0;
    spec.value = [](int b, int y, int x) {
      return (y == 150 && x == 7) ? 0.0 : 600.0 + 150.0 * b + 11.0 * ((3 * x + 5 * y + b * y / 7) % 13) + y;
    };
    test::write_tif(tif, spec);
    downstream::DenseOptions o;
    o.input = tif.string();
    o.raster_bands = {"B02", "B03", "B04", "B08"};
    o.tile = 24;
    o.overlap = 8;
    o.progress = false;
    o.warnings = false;
    const auto run = [&](int64_t strip_tile_rows, downstream::DenseFormat format, const std::string& name) {
      o.strip_tile_rows = strip_tile_rows;
      o.format = format;
      o.out = (dir.path() / name).string();
      return downstream::embed_dense(enc, o);
    };
    const downstream::DenseResult whole = run(0, downstream::DenseFormat::float32, "whole.tif");
    const downstream::DenseResult strips = run(1, downstream::DenseFormat::float32, "strips.tif");
    const downstream::DenseResult three = run(3, downstream::DenseFormat::float32, "three.tif");
    CHECK(whole.invalid_pixels == 1);
    CHECK(strips.invalid_pixels == 1);
    CHECK(whole.peak_accumulator_values == 300 * 40 * 64);            // H x W x D: everything at once
    CHECK(strips.peak_accumulator_values == 24 * 40 * 64);            // tile x W x D
    CHECK(three.peak_accumulator_values == (2 * 16 + 24) * 40 * 64);  // 3 tile rows, step 16
    const DenseFile a = read_dense(whole.path, false), b = read_dense(strips.path, false),
                    c = read_dense(three.path, false);
    REQUIRE(a.values.size() == b.values.size());
    REQUIRE(a.values.size() == c.values.size());
    std::vector<double> av, bv, cv;
    int64_t nan_mismatches = 0, nans = 0;
    for (size_t i = 0; i < a.values.size(); ++i) {
      nan_mismatches += std::isnan(a.values[i]) != std::isnan(b.values[i]) ? 1 : 0;
      nan_mismatches += std::isnan(a.values[i]) != std::isnan(c.values[i]) ? 1 : 0;
      nans += std::isnan(a.values[i]) ? 1 : 0;
      if (std::isnan(a.values[i])) continue;
      av.push_back(a.values[i]);
      bv.push_back(b.values[i]);
      cv.push_back(c.values[i]);
    }
    CHECK(nan_mismatches == 0);
    CHECK(nans == 64);  // the one hole, on every band
    CHECK(max_relative_error(av, bv) <= 1e-6);
    CHECK(max_relative_error(av, cv) <= 1e-6);

    // int8 reduced to 16 dimensions: the PCA is fitted before the first strip, so the codes and the
    // sidecar do not depend on the strips either.
    o.dims = 16;
    const downstream::DenseResult q_whole = run(0, downstream::DenseFormat::int8, "q_whole.tif");
    const downstream::DenseResult q_strips = run(1, downstream::DenseFormat::int8, "q_strips.tif");
    CHECK(q_strips.bands == 16);
    CHECK(q_strips.peak_accumulator_values == 24 * 40 * 64);
    CHECK(read_npy(q_whole.pca_path).to_host_doubles() == read_npy(q_strips.pca_path).to_host_doubles());
    const DenseFile qa = read_dense(q_whole.path, true), qb = read_dense(q_strips.path, true);
    CHECK(qa.bands == 16);
    CHECK(qa.values == qb.values);
    CHECK(std::count(qb.values.begin(), qb.values.end(), -128.0) == 16);  // the one hole, on every band

    // A raster without one valid pixel has nothing to fit a PCA on: the error names it and says what to do.
    const fs::path empty = dir.path() / "empty.tif";
    spec.height = 30;
    spec.value = [](int, int, int) { return 0.0; };
    test::write_tif(empty, spec);
    o.input = empty.string();
    o.out = (dir.path() / "empty_q.tif").string();
    o.format = downstream::DenseFormat::int8;
    const std::string no_sample = error_of([&] { downstream::embed_dense(enc, o); });
    CHECK(no_sample.find(empty.string()) != std::string::npos);
    CHECK(no_sample.find("--pca-tiles") != std::string::npos);
    CHECK(!fs::exists(o.out));
  }

  TEST_CASE("embed --dense: nodata pixels of the input are -128 in int8 and NaN in float32" * doctest::skip(kNoGdal)) {
    TempDir dir;
    const std::string ckpt = tiny_checkpoint(dir.path() / "run", 8, "small-patch");
    const downstream::PretrainedEncoder enc = downstream::load_pretrained_encoder(ckpt, "s2", {}, Device::cpu());
    const fs::path tif = dir.path() / "holes.tif";
    test::TifSpec spec;
    spec.width = 40;
    spec.height = 36;
    spec.bands = 4;
    spec.nodata = 0.0;
    spec.value = [](int b, int y, int x) {
      return (y == 3 && x == 4 && b == 2) ? 0.0 : 700.0 + 200.0 * b + 9.0 * ((x + 2 * y) % 7);
    };
    test::write_tif(tif, spec);
    downstream::DenseOptions o;
    o.input = tif.string();
    o.raster_bands = {"B02", "B03", "B04", "B08"};
    o.tile = 24;
    o.overlap = 8;
    o.progress = false;
    o.warnings = false;
    for (const downstream::DenseFormat format : {downstream::DenseFormat::int8, downstream::DenseFormat::float32}) {
      const bool int8 = format == downstream::DenseFormat::int8;
      o.format = format;
      o.out = (dir.path() / (int8 ? "q.tif" : "f.tif")).string();
      const downstream::DenseResult r = downstream::embed_dense(enc, o);
      CHECK(r.invalid_pixels == 1);
      CHECK(r.missing_bands.size() == enc.bands.size() - 4);
      const DenseFile f = read_dense(o.out, int8);
      for (size_t i = 0; i < 6; ++i) CHECK(f.geotransform[i] == spec.geotransform[i]);
      CHECK(data::same_crs(f.wkt, test::epsg_wkt(spec.epsg)));
      const size_t plane = 40 * 36;
      for (int k = 0; k < f.bands; ++k) {
        const double hole = f.values[plane * static_cast<size_t>(k) + 3 * 40 + 4];
        const double next = f.values[plane * static_cast<size_t>(k) + 3 * 40 + 5];
        CHECK((int8 ? hole == -128 : std::isnan(hole)));
        CHECK((int8 ? next != -128 : !std::isnan(next)));
      }
    }
  }
#endif

  TEST_CASE("output checks: folders under a regular file, the input itself under any name, inside a dataset, too "
            "little space; nothing is created") {
    TempDir dir;
    const fs::path file = dir.path() / "file.txt";
    std::ofstream(file) << "a regular file";
    const std::string under =
        error_of([&] { check_output_dir((file / "sub").string(), "the output", {"a.npy"}, 0, {}); });
    CHECK(under.find(file.string()) != std::string::npos);
    CHECK(under.find("regular file") != std::string::npos);
    CHECK(error_of([&] {
            check_output_file((file / "sub" / "x.tif").string(), "the output", 0, {});
          }).find("regular file") != std::string::npos);
    CHECK(error_of([&] { check_output_dir(file.string(), "the output", {}, 0, {}); }).find("not a folder") !=
          std::string::npos);

    // The input under another spelling, a symlink, a hard link.
    const fs::path in = dir.path() / "in.tif";
    std::ofstream(in) << "imagery";
    fs::create_directories(dir.path() / "sub");
    fs::create_symlink(in, dir.path() / "link.tif");
    fs::create_hard_link(in, dir.path() / "hard.tif");
    const std::vector<ProtectedInput> raster = {{in.string(), "the input raster", false}};
    for (const fs::path& p : {in, dir.path() / "." / "in.tif", dir.path() / "sub" / ".." / "in.tif",
                              dir.path() / "link.tif", dir.path() / "hard.tif"}) {
      CAPTURE(p);
      const std::string e = error_of([&] { check_output_file(p.string(), "the output", 0, raster); });
      CHECK(e.find("overwrite") != std::string::npos);
      CHECK(e.find(in.string()) != std::string::npos);
    }
    CHECK(error_of([&] { check_output_file((dir.path() / "out.tif").string(), "the output", 0, raster); }).empty());
    // A folder's files against the input.
    CHECK(error_of([&] {
            check_output_dir(dir.path().string(), "the output", {"in.tif"}, 0, raster);
          }).find("overwrite") != std::string::npos);

    // Inside a dataset folder, also through a symlinked folder; beside it is fine.
    fs::create_directories(dir.path() / "ds" / "train");
    fs::create_directory_symlink(dir.path() / "ds", dir.path() / "alias");
    const std::vector<ProtectedInput> ds = {{(dir.path() / "ds").string(), "the dataset folder", true}};
    for (const fs::path& p : {dir.path() / "ds", dir.path() / "ds" / "emb", dir.path() / "ds" / "train" / "new" / "x",
                              dir.path() / "alias" / "emb"}) {
      CAPTURE(p);
      CHECK(error_of([&] { check_output_dir(p.string(), "the output", {}, 0, ds); }).find("the dataset folder") !=
            std::string::npos);
    }
    CHECK(error_of([&] { check_output_dir((dir.path() / "dsx").string(), "the output", {}, 0, ds); }).empty());
    CHECK(error_of([&] { check_output_dir((dir.path() / "a" / "b").string(), "the output", {}, 0, ds); }).empty());

    // Too little space: the need, the free space, the note.
    const std::string full = error_of(
        [&] { check_output_file((dir.path() / "big.tif").string(), "the output", uint64_t{1} << 60, {}, "a lot"); });
    CHECK(full.find("needs about 1024.0 PiB (a lot)") != std::string::npos);
    CHECK(full.find("free") != std::string::npos);
    CHECK(!fs::exists(dir.path() / "a"));
    CHECK(!fs::exists(dir.path() / "big.tif"));
    CHECK(byte_size_text(512) == "512 bytes");
    CHECK(byte_size_text(1536) == "1.5 KiB");
    CHECK(byte_size_text(uint64_t{3} << 30) == "3.0 GiB");
  }

  TEST_CASE("embed --dense PCA: the eigensolvers find known eigenpairs" * doctest::skip(!downstream::have_lapack())) {
    // Every eigenpair: distinct eigenvalues of both signs.
    const int64_t n = 24;
    const std::vector<double> q = random_orthogonal(n, 11);
    std::vector<double> values;
    for (int64_t i = 0; i < n; ++i) values.push_back(9.0 - 0.7 * static_cast<double>(i));  // 9 .. -7.1
    const std::vector<double> a24 = with_eigenpairs(q, values, n);
    const downstream::SymmetricEigen all = downstream::top_eigenpairs(a24, n, n);
    CHECK(all.count() == n);
    check_eigenpairs(all, a24, q, values, n, 1e-12);

    // The 12 largest of a geometric spectrum.
    const int64_t big = 300;
    const std::vector<double> qb = random_orthogonal(big, 12);
    std::vector<double> spectrum;
    for (int64_t i = 0; i < big; ++i) spectrum.push_back(50.0 * std::pow(0.9, static_cast<double>(i)));
    const std::vector<double> a = with_eigenpairs(qb, spectrum, big);
    const downstream::SymmetricEigen top = downstream::top_eigenpairs(a, big, 12);
    CHECK(top.count() == 12);
    check_eigenpairs(top, a, qb, spectrum, big, 1e-9);
    // The leading block of the small matrix.
    const downstream::SymmetricEigen small = downstream::top_eigenpairs(a24, n, 5);
    CHECK(small.count() == 5);
    check_eigenpairs(small, a24, q, values, n, 1e-12);

    // Rank 3 < k: the top 3 exact, the rest 0 (vectors of the null space, still orthonormal).
    const std::vector<double> rank3 = with_eigenpairs(qb, {7.0, 5.0, 2.0}, big);
    const downstream::SymmetricEigen low = downstream::top_eigenpairs(rank3, big, 6);
    REQUIRE(low.count() == 6);
    check_eigenpairs(
        downstream::SymmetricEigen{
            big, {low.values.begin(), low.values.begin() + 3}, {low.vectors.begin(), low.vectors.begin() + 3 * big}},
        rank3, qb, {7.0, 5.0, 2.0}, big, 1e-9);
    for (int64_t i = 3; i < 6; ++i) CHECK(std::fabs(low.values[static_cast<size_t>(i)]) <= 1e-9);
    CHECK(orthonormality_error(low.vectors, 6, big) <= 1e-12);
    CHECK(eigen_residual(low, rank3, big) <= 1e-12 * 7.0);

    // Bad input is refused with errors that say what is wrong.
    std::vector<double> nan = a24;
    nan[5] = std::nan("");
    CHECK_THROWS_WITH_AS(downstream::top_eigenpairs(nan, n, 3), doctest::Contains("non-finite"), Error);
    CHECK_THROWS_WITH_AS(downstream::top_eigenpairs(a24, n, n + 1), doctest::Contains("k = 25"), Error);
    CHECK_THROWS_WITH_AS(downstream::top_eigenpairs(a24, n + 1, 3), doctest::Contains("expected n x n"), Error);
  }

  TEST_CASE("embed --dense PCA: the streamed covariance equals a two-pass float64 one; components, projection" *
            doctest::skip(!downstream::have_lapack())) {
    // 500 rows of D = 20 with a large common offset (as features have), added in 3 batches.
    const int64_t rows = 500, d = 20;
    downstream::SeededStream rng(21);
    std::vector<float> x(static_cast<size_t>(rows * d));
    const auto uniform = [&] { return static_cast<double>(rng.next() >> 11) / 9007199254740992.0 - 0.5; };
    for (int64_t r = 0; r < rows; ++r) {
      const double shared = uniform();  // every third feature also carries it: correlations
      for (int64_t k = 0; k < d; ++k)
        x[static_cast<size_t>(r * d + k)] =
            static_cast<float>(1000.0 + uniform() * (1.0 + static_cast<double>(k)) + (k % 3 == 0 ? 2.0 * shared : 0.0));
    }
    downstream::CovarianceSum sum(d);
    sum.add(x.data(), 120);
    sum.add(x.data() + 120 * d, 1);
    sum.add(x.data() + 121 * d, rows - 121);
    CHECK(sum.count() == rows);
    std::vector<double> mean(static_cast<size_t>(d), 0.0), cov(static_cast<size_t>(d * d), 0.0);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = 0; k < d; ++k)
        mean[static_cast<size_t>(k)] += x[static_cast<size_t>(r * d + k)] / static_cast<double>(rows);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < d; ++i)
        for (int64_t j = 0; j < d; ++j)
          cov[static_cast<size_t>(i * d + j)] += (x[static_cast<size_t>(r * d + i)] - mean[static_cast<size_t>(i)]) *
                                                 (x[static_cast<size_t>(r * d + j)] - mean[static_cast<size_t>(j)]) /
                                                 static_cast<double>(rows - 1);
    CHECK(max_relative_error(mean, sum.mean(), 1e-12) < 1e-12);
    CHECK(max_relative_error(cov, sum.covariance(), 1e-6) < 1e-9);

    const downstream::Pca pca = downstream::fit_pca(sum, 5);
    CHECK(pca.components == 5);
    CHECK(orthonormality_error(pca.basis, 5, d) <= 1e-12);
    double trace = 0, kept = 0;
    for (int64_t i = 0; i < d; ++i) trace += cov[static_cast<size_t>(i * d + i)];
    for (int64_t j = 0; j < 5; ++j) {
      // cov c_j = variance_j c_j, variances descending.
      const double lambda = pca.variances[static_cast<size_t>(j)];
      kept += lambda;
      if (j > 0) CHECK(lambda <= pca.variances[static_cast<size_t>(j - 1)]);
      for (int64_t i = 0; i < d; ++i) {
        double cv = 0;
        for (int64_t k = 0; k < d; ++k)
          cv += cov[static_cast<size_t>(i * d + k)] * pca.basis[static_cast<size_t>(j * d + k)];
        CHECK(cv == doctest::Approx(lambda * pca.basis[static_cast<size_t>(j * d + i)]).epsilon(1e-9).scale(lambda));
      }
    }
    CHECK(pca.explained == doctest::Approx(kept / trace).epsilon(1e-12));
    // project and project_rows: c_j . (v - mean).
    std::vector<double> one(5), many(static_cast<size_t>(3 * 5));
    pca.project_rows(x.data() + 7 * d, 3, many.data());
    for (int64_t r = 0; r < 3; ++r) {
      pca.project(x.data() + (7 + r) * d, one.data());
      for (int64_t j = 0; j < 5; ++j) {
        double y = 0;
        for (int64_t k = 0; k < d; ++k)
          y += pca.basis[static_cast<size_t>(j * d + k)] *
               (x[static_cast<size_t>((7 + r) * d + k)] - mean[static_cast<size_t>(k)]);
        CHECK(one[static_cast<size_t>(j)] == doctest::Approx(y).epsilon(1e-9).scale(1.0));
        CHECK(many[static_cast<size_t>(r * 5 + j)] == doctest::Approx(y).epsilon(1e-9).scale(1.0));
      }
    }
  }

  TEST_CASE("export-weights: torchvision's ResNet with the exported weights gives rsd embed's features" *
            doctest::skip(kNoGdal)) {
    TempDir dir;
    // Width 64: torchvision's ResNet has no base-width parameter.
    const std::string ckpt = tiny_checkpoint(dir.path() / "run", 64, "standard");
    const downstream::PretrainedEncoder enc = downstream::load_pretrained_encoder(ckpt, "s2", {}, Device::cpu());
    const fs::path places = samples_dir() / "terramind-s1s2";
    const downstream::EmbedResult r = downstream::embed_chips(enc, embed_options(places, dir.path() / "emb"));
    CHECK(r.dim == 512);

    const fs::path weights = dir.path() / "encoder.safetensors";
    const int64_t written = downstream::export_weights(ckpt, weights.string(), "s2", {});
    const SafetensorsFile file = SafetensorsFile::open(weights.string());
    CHECK(written == static_cast<int64_t>(file.names().size()));
    CHECK(file.shape("conv1.weight") == Shape{64, 13, 7, 7});  // (K, C, R, S)
    CHECK(file.contains("layer4.1.bn2.running_var"));
    CHECK(file.metadata().at("model_id") == enc.model_id);
    CHECK(data::BandStatistics::from_json(file.metadata().at("statistics")) == enc.statistics);

    const fs::path input = dir.path() / "input.npy", out = dir.path() / "torchvision.npy";
    write_npy(input.string(), stacked_inputs(data::discover(places.string()), enc));
    run_python(str_cat("features --weights '", weights.string(), "' --input '", input.string(), "' --out '",
                       out.string(), "'"));
    const Tensor theirs = read_npy(out.string()), ours = read_npy(r.embeddings);
    REQUIRE(theirs.shape() == ours.shape());
    const double err = max_relative_error(theirs.to_host_doubles(), ours.to_host_doubles());
    MESSAGE("torchvision vs rsd embed, max relative error ", err);
    CHECK(err < 1e-4);
  }
}
