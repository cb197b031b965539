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

#include "tests/test_paths.h"
#include "data/layouts.h"
#include "engine/npy.h"
#include "engine/safetensors.h"
#include "harness.h"
#include "tools/downstream/embed_chips.h"
#include "tools/downstream/embed_dense.h"
#include "tools/downstream/embed_inputs.h"
#include "tools/downstream/export_weights.h"
#include "tools/pack.h"
#include "tools/pretrain/config.h"
#include "tools/pretrain/trainer.h"
#if RSD_HAVE_GDAL
#include "gdal_test_util.h"
#endif

using namespace rsd;
using test::max_relative_error;
namespace fs = std::filesystem;

using test::TempDir;
using test::samples_dir;

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
  tools::PretrainRunOptions quiet;
  quiet.quiet = true;
  const tools::PretrainResult r = tools::run_pretrain(tools::parse_pretrain_config(text, "<test_embed>"), quiet);
  REQUIRE(!r.checkpoint.empty());
  return r.checkpoint;
}

tools::EmbedOptions embed_options(const fs::path& input, const fs::path& out) {
  tools::EmbedOptions o;
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
Tensor stacked_inputs(const data::Dataset& ds, const tools::PretrainedEncoder& enc) {
  std::vector<data::Raster> inputs;
  for (const data::SampleRef& ref : ds.samples)
    inputs.push_back(tools::encoder_input(data::load_sample(ref), enc, nullptr));
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
  std::vector<double> values;  // (bands, H, W); int8 files: the signed codes
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
  f.overviews = GDALGetOverviewCount(GDALGetRasterBand(ds, 1));
  const size_t plane = static_cast<size_t>(f.width) * static_cast<size_t>(f.height);
  f.values.resize(plane * static_cast<size_t>(f.bands));
  std::vector<uint8_t> bytes(plane);
  for (int b = 0; b < f.bands; ++b) {
    GDALRasterBandH band = GDALGetRasterBand(ds, b + 1);
    double* dst = f.values.data() + plane * static_cast<size_t>(b);
    if (int8) {
      REQUIRE(GDALRasterIO(band, GF_Read, 0, 0, f.width, f.height, bytes.data(), f.width, f.height, GDT_Byte, 0, 0) ==
              CE_None);
      for (size_t i = 0; i < plane; ++i) dst[i] = static_cast<int8_t>(bytes[i]);
    } else {
      REQUIRE(GDALRasterIO(band, GF_Read, 0, 0, f.width, f.height, dst, f.width, f.height, GDT_Float64, 0, 0) ==
              CE_None);
    }
  }
  GDALClose(ds);
  return f;
}
#endif

}  // namespace

TEST_SUITE("downstream") {
  TEST_CASE("embed: a dataset folder's embeddings equal features() of each chip, and index.csv describes them" *
            doctest::skip(kNoGdal)) {
    TempDir dir;
    const std::string ckpt = tiny_checkpoint(dir.path() / "run", 8, "small-patch");
    const tools::PretrainedEncoder enc = tools::load_pretrained_encoder(ckpt, "s2", {}, Device::cpu());
    const fs::path eurosat = samples_dir() / "eurosat-ms-subset";
    const tools::EmbedResult r = tools::embed_chips(enc, embed_options(eurosat, dir.path() / "emb"));
    const data::Dataset ds = data::discover(eurosat.string());
    const auto n = static_cast<int64_t>(ds.samples.size());
    CHECK(r.rows == n);
    CHECK(r.dim == 64);  // resnet18 at width 8
    CHECK(r.missing_bands.empty());

    const Tensor e = read_npy(r.embeddings);
    REQUIRE(e.shape() == Shape{n, 64});
    CHECK(e.dtype() == DType::f32);
    CHECK(run_python(str_cat("shape --npy '", r.embeddings, "'")) == str_cat("float32 ", n, ",64\n"));
    // Every row against features() of the stacked inputs (one batch, unlike embed's batches of 7).
    const std::vector<double> want = enc.features(stacked_inputs(ds, enc)).to_host_doubles();
    CHECK(max_relative_error(want, e.to_host_doubles()) < 1e-5);

    const std::vector<std::string> lines = read_lines(r.index);
    REQUIRE(static_cast<int64_t>(lines.size()) == n + 1);
    CHECK(lines[0] == "row,id,source,crs,minx,miny,maxx,maxy,label");
    for (int64_t i : {int64_t{0}, n / 2, n - 1}) {
      const data::SampleRef& ref = ds.samples[static_cast<size_t>(i)];
      const std::string& line = lines[static_cast<size_t>(i + 1)];
      CAPTURE(line);
      CHECK(line.rfind(str_cat(i, ",", ref.id, ",", ref.s2.at(0).path, ",EPSG:326"), 0) == 0);  // UTM north
      CHECK(line.substr(line.rfind(',') + 1) == ds.classes.at(static_cast<size_t>(ref.label.class_index)));
      // Bounds: the footprint from the file's geotransform (north up: origin at the top left).
      const std::vector<std::string> f = split_csv(line);
      REQUIRE(f.size() == 9);
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
  }

  TEST_CASE("embed: a packed shard dataset gives the same rows as its source folder" * doctest::skip(kNoGdal)) {
    TempDir dir;
    const std::string ckpt = tiny_checkpoint(dir.path() / "run", 8, "small-patch");
    const tools::PretrainedEncoder enc = tools::load_pretrained_encoder(ckpt, "s2", {}, Device::cpu());
    const fs::path places = samples_dir() / "terramind-s1s2";
    tools::PackCommand pack;
    pack.src = places.string();
    pack.out = (dir.path() / "shards").string();
    pack.progress = false;
    tools::pack_dataset(pack);
    const tools::EmbedResult folder = tools::embed_chips(enc, embed_options(places, dir.path() / "folder"));
    const tools::EmbedResult shards = tools::embed_chips(enc, embed_options(pack.out, dir.path() / "from_shards"));
    REQUIRE(shards.rows == folder.rows);
    CHECK(max_relative_error(read_npy(folder.embeddings).to_host_doubles(),
                             read_npy(shards.embeddings).to_host_doubles()) < 1e-6);
    const std::vector<std::string> a = read_lines(folder.index), b = read_lines(shards.index);
    REQUIRE(a.size() == b.size());
    for (size_t i = 1; i < a.size(); ++i) {
      // Same row, id, CRS and bounds; the source is the shard dataset's index instead of the files.
      std::vector<std::string> fa = split_csv(a[i]), fb = split_csv(b[i]);
      REQUIRE(fa.size() == 9);
      REQUIRE(fb.size() == 9);
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
    const tools::PretrainedEncoder enc = tools::load_pretrained_encoder(ckpt, "s2", {}, Device::cpu());

    // The Sen1Floods11 S2 chip: band names from its band descriptions.
    tools::EmbedOptions half =
        embed_options(samples_dir() / "sen1floods11" / "Spain_7370579_S2Hand.tif", dir.path() / "f16");
    half.dtype = DType::f16;
    const tools::EmbedResult h = tools::embed_chips(enc, half);
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
    tools::EmbedOptions partial = embed_options(tif, dir.path() / "partial");
    partial.raster_bands = four;
    partial.warnings = false;
    const tools::EmbedResult p = tools::embed_chips(enc, partial);
    CHECK(p.rows == 1);
    CHECK(p.missing_bands.size() == enc.bands.size() - 4);
    for (const std::string& b : four)
      CHECK(std::find(p.missing_bands.begin(), p.missing_bands.end(), b) == p.missing_bands.end());

    // What embed fed the encoder: the 4 bands normalized, the others 0.
    data::Sample s;
    s.id = "four";
    s.s2 = data::read_raster(tif.string(), four);
    std::vector<std::string> missing;
    const data::Raster in = tools::encoder_input(s, enc, &missing);
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
    const std::string not_ckpt = error_of([&] { tools::load_pretrained_encoder(bad.string(), "", {}, Device::cpu()); });
    CHECK(not_ckpt.find(bad.string()) != std::string::npos);
    CHECK(error_of([&] {
            tools::export_weights(bad.string(), (dir.path() / "w.safetensors").string(), "", {});
          }).find(bad.string()) != std::string::npos);

    const std::string ckpt = tiny_checkpoint(dir.path() / "run", 8, "small-patch");
    const tools::PretrainedEncoder enc = tools::load_pretrained_encoder(ckpt, "s2", {}, Device::cpu());
    const fs::path sar = dir.path() / "sar.tif";
    test::TifSpec spec;
    spec.bands = 2;
    spec.type = GDT_Float32;
    spec.value = [](int b, int y, int x) { return -12.0 - 5.0 * b + 0.1 * (y + x); };
    test::write_tif(sar, spec);
    tools::EmbedOptions o = embed_options(sar, dir.path() / "none");
    o.raster_bands = {"VV", "VH"};
    const std::string none = error_of([&] { tools::embed_chips(enc, o); });
    CHECK(none.find(sar.string()) != std::string::npos);
    CHECK(none.find("none of the encoder's bands") != std::string::npos);
    // Its band descriptions are empty: without --raster-bands the error asks for them.
    o.raster_bands.clear();
    const std::string unnamed = error_of([&] { tools::embed_chips(enc, o); });
    CHECK(unnamed.find(sar.string()) != std::string::npos);
    CHECK(unnamed.find("--raster-bands") != std::string::npos);
    o.input = (dir.path() / "absent").string();
    CHECK(error_of([&] { tools::embed_chips(enc, o); }).find(o.input) != std::string::npos);
  }

  TEST_CASE("embed --dense: a GeoTIFF on the source's grid, blended tiles, int8 within its bound" *
            doctest::skip(kNoGdal)) {
    TempDir dir;
    const std::string ckpt = tiny_checkpoint(dir.path() / "run", 8, "small-patch");
    const tools::PretrainedEncoder enc = tools::load_pretrained_encoder(ckpt, "s2", {}, Device::cpu());
    const fs::path chip = samples_dir() / "sen1floods11" / "Spain_7370579_S2Hand.tif";
    tools::DenseOptions o;
    o.input = chip.string();
    o.out = (dir.path() / "dense.tif").string();
    o.tile = 128;
    o.overlap = 32;
    o.progress = false;
    const tools::DenseResult r = tools::embed_dense(enc, o);
    CHECK(r.tiles == 25);  // origins 0, 96, 192, 288, 384 on each axis
    const DenseFile f = read_dense(o.out, false);
    const data::RasterInfo src = data::raster_info(chip.string());
    CHECK(f.width == src.width);
    CHECK(f.height == src.height);
    CHECK(f.bands == 64);
    for (size_t i = 0; i < 6; ++i) CHECK(f.geotransform[i] == src.geo.geotransform[i]);
    CHECK(data::same_crs(f.wkt, src.geo.crs_wkt));
    CHECK(f.compression == "DEFLATE");
    CHECK(f.overviews >= 1);
    CHECK(f.model_id == enc.model_id);
    CHECK(data::BandStatistics::from_json(f.statistics) == enc.statistics);

    // Pixel (10, 13) lies in tile (0, 0) alone: the bilinear upsampling of that tile's feature map
    // (stride 8: row 10 -> cell 0.8125, column 13 -> cell 1.1875).
    data::Sample s;
    s.s2 = data::read_raster(chip.string(), tools::geotiff_band_names(chip.string(), {}), data::Window{0, 0, 128, 128});
    const data::Raster in = tools::encoder_input(s, enc, nullptr);
    Tensor x = Tensor::empty({1, 128, 128, in.channels()}, DType::f32);
    std::copy(in.pixels.begin(), in.pixels.end(), x.data<float>());
    const std::vector<double> fmap = enc.net->feature_map(x, false).to_host_doubles();  // (1, 16, 16, 64)
    const auto cell = [&](int cy, int cx, int k) { return fmap[static_cast<size_t>((cy * 16 + cx) * 64 + k)]; };
    const size_t plane = static_cast<size_t>(f.width) * static_cast<size_t>(f.height);
    std::vector<double> want, got;
    for (int k = 0; k < 64; ++k) {
      const double top = 0.8125 * cell(0, 1, k) + 0.1875 * cell(0, 2, k);
      const double bottom = 0.8125 * cell(1, 1, k) + 0.1875 * cell(1, 2, k);
      want.push_back(0.1875 * top + 0.8125 * bottom);
      got.push_back(f.values[plane * static_cast<size_t>(k) + static_cast<size_t>(10 * f.width + 13)]);
    }
    CHECK(max_relative_error(want, got) < 1e-4);

    // int8: each pixel's unit vector, |v - q / 127| <= 0.5 / 127; -128 exactly where float32 is NaN.
    o.format = tools::DenseFormat::int8;
    o.out = (dir.path() / "dense_int8.tif").string();
    tools::embed_dense(enc, o);
    const DenseFile q = read_dense(o.out, true);
    REQUIRE(q.values.size() == f.values.size());
    double worst = 0;
    int64_t nodata = 0;
    for (size_t p = 0; p < plane; ++p) {
      double norm = 0;
      for (int k = 0; k < 64; ++k)
        norm += f.values[plane * static_cast<size_t>(k) + p] * f.values[plane * static_cast<size_t>(k) + p];
      norm = std::sqrt(norm);
      const bool invalid = std::isnan(norm);
      nodata += invalid ? 1 : 0;
      for (int k = 0; k < 64; ++k) {
        const double code = q.values[plane * static_cast<size_t>(k) + p];
        if (invalid) {
          CHECK(code == -128);
          continue;
        }
        worst = std::max(worst, std::fabs(f.values[plane * static_cast<size_t>(k) + p] / norm - code / 127.0));
      }
    }
    MESSAGE("int8 worst error ", worst, " (bound ", 0.5 / 127, "), nodata pixels ", nodata);
    CHECK(nodata == r.invalid_pixels);
    CHECK(worst <= 0.5 / 127 + 1e-5);  // + the float32 rounding of the stored features
  }

  TEST_CASE("embed --dense: nodata pixels of the input are -128 in int8 and NaN in float32" * doctest::skip(kNoGdal)) {
    TempDir dir;
    const std::string ckpt = tiny_checkpoint(dir.path() / "run", 8, "small-patch");
    const tools::PretrainedEncoder enc = tools::load_pretrained_encoder(ckpt, "s2", {}, Device::cpu());
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
    tools::DenseOptions o;
    o.input = tif.string();
    o.raster_bands = {"B02", "B03", "B04", "B08"};
    o.tile = 24;
    o.overlap = 8;
    o.progress = false;
    o.warnings = false;
    for (const tools::DenseFormat format : {tools::DenseFormat::int8, tools::DenseFormat::float32}) {
      const bool int8 = format == tools::DenseFormat::int8;
      o.format = format;
      o.out = (dir.path() / (int8 ? "q.tif" : "f.tif")).string();
      const tools::DenseResult r = tools::embed_dense(enc, o);
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

  TEST_CASE("export-weights: torchvision's ResNet with the exported weights gives rsd embed's features" *
            doctest::skip(kNoGdal)) {
    TempDir dir;
    // Width 64: torchvision's ResNet has no base-width parameter.
    const std::string ckpt = tiny_checkpoint(dir.path() / "run", 64, "standard");
    const tools::PretrainedEncoder enc = tools::load_pretrained_encoder(ckpt, "s2", {}, Device::cpu());
    const fs::path places = samples_dir() / "terramind-s1s2";
    const tools::EmbedResult r = tools::embed_chips(enc, embed_options(places, dir.path() / "emb"));
    CHECK(r.dim == 512);

    const fs::path weights = dir.path() / "encoder.safetensors";
    const int64_t written = tools::export_weights(ckpt, weights.string(), "s2", {});
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
