// `rsd embed` per chip on the shipped real samples, with checkpoints from tiny pretraining runs:
// the .npy holds features() of each chip and opens in NumPy; index.csv describes each row; a packed
// shard dataset gives the same rows as its source folder; float16 output; a raster lacking some
// bands is embedded with a warning; bad inputs (of embed and export-weights) fail with errors that
// name the file.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/layouts.h"
#include "data/pack.h"
#include "engine/npy.h"
#include "models/downstream/embed_chips.h"
#include "models/downstream/export_weights.h"
#include "tests/support/embed_test_util.h"
#include "tests/support/gdal_test_util.h"
#include "tests/support/harness.h"
#include "tests/support/test_paths.h"

using namespace rsd;
using namespace rsd::test;
namespace fs = std::filesystem;

namespace {

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

#if RSD_HAVE_GDAL  // GeoTIFFs written with GDAL (tests/support/gdal_test_util.h)
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
#endif

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
}
