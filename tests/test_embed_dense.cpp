// `rsd embed --dense` on the shipped real samples, with checkpoints from tiny pretraining runs,
// read back with GDAL alone: a GeoTIFF on the source's grid from blended tiles, float32 or int8
// 64-d PCA within its bound (its sidecar opens in NumPy); strips of one tile row give the whole
// raster's output; nodata pixels are -128 in int8 and NaN in float32.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "engine/npy.h"
#include "models/downstream/embed_chips.h"
#include "models/downstream/embed_dense.h"
#include "models/downstream/embed_inputs.h"
#include "tests/support/embed_test_util.h"
#include "tests/support/gdal_test_util.h"
#include "tests/support/harness.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_paths.h"

using namespace rsd;
using namespace rsd::test;
namespace fs = std::filesystem;

namespace {

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

#endif

}  // namespace

TEST_SUITE("downstream") {
#if RSD_HAVE_GDAL  // GeoTIFFs written with GDAL (tests/support/gdal_test_util.h)
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
    const test::ShellResult numpy = test::run_shell(str_cat(kPython, " -c 'import numpy as np; t = np.load(\"", qr.pca_path,
                                                     "\"); mean, c = t[0], t[1:]; print(t.dtype, mean.shape, c.shape, "
                                                     "bool(np.abs(c @ c.T - np.eye(64)).max() < 1e-5))'"));
    CHECK_MESSAGE(numpy.exit_code == 0, numpy.output);
    CHECK(numpy.output == str_cat("float64 (", kD, ",) (64, ", kD, ") True\n"));

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
}
