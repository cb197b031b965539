// GeoTIFF readers on the shipped real samples (data/samples) and on small GeoTIFFs written here:
// every value against GDAL's own reading of the source file, georeferencing, resampling of
// BigEarthNet's 20 m and 60 m bands, windows, nodata and NaN, the dtypes; bad input in "errors".
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <thread>

#include "data/gdal/raster_reader.h"
#include "data/layouts.h"
#include "engine/error.h"
#include "tests/support/gdal_test_util.h"
#include "tests/support/test_paths.h"

#if RSD_HAVE_GDAL
#include <fcntl.h>
#include <unistd.h>
#endif

namespace rsd::data {
namespace {

#if RSD_HAVE_GDAL
using test::fs::path;
using test::kNoGdal;

path sample(const std::string& rel) { return test::samples_dir() / rel; }

struct Mismatch {
  int64_t count = 0;
  std::string first;
};

// Channels [first_channel, first_channel + bands of `file`) of r equal GDAL's native reading of
// `file`, band by band; the file is `factor` times coarser than r's grid (nearest: r's pixel
// (y, x) comes from the file's (y / factor, x / factor)). Invalid pixels are nodata or NaN in the
// source, exactly; NaN is stored as 0.
Mismatch compare_with_gdal(const Raster& r, const path& file, int64_t first_channel, int bands, int factor = 1,
                           int64_t y0 = 0, int64_t x0 = 0) {
  Mismatch m;
  for (int b = 0; b < bands; ++b) {
    const test::NativeBand nb = test::gdal_read_native(file, b + 1);
    for (int64_t y = 0; y < r.height; ++y) {
      for (int64_t x = 0; x < r.width; ++x) {
        const float src = nb.values[static_cast<size_t>(((y + y0) / factor) * nb.width + (x + x0) / factor)];
        const bool invalid = std::isnan(src) || (nb.nodata && static_cast<double>(src) == *nb.nodata);
        const size_t i = static_cast<size_t>((y * r.width + x) * r.channels() + first_channel + b);
        const float want = std::isnan(src) ? 0.0f : src;
        if (r.pixels[i] != want || (r.valid[i] == 0) != invalid) {
          if (m.count++ == 0) {
            m.first = str_cat(file.string(), " band ", b + 1, " (", y, ", ", x, "): GDAL ", src, ", reader ",
                              r.pixels[i], " valid ", int(r.valid[i]));
          }
        }
      }
    }
  }
  return m;
}

void check_georef(const Raster& r, const path& file) {
  std::string wkt;
  const auto gt = test::gdal_geotransform(file, &wkt);
  CHECK(r.geo.has_geotransform);
  for (int i = 0; i < 6; ++i) CHECK(r.geo.geotransform[static_cast<size_t>(i)] == gt[static_cast<size_t>(i)]);
  CHECK(r.geo.crs_wkt == wkt);
  CHECK(!wkt.empty());
}

const SampleRef& find_ref(const Dataset& d, const std::string& id) {
  for (const SampleRef& s : d.samples) {
    if (s.id == id) return s;
  }
  fail("test: no sample ", id, " in ", d.root);
}
#endif

}  // namespace

TEST_SUITE("data") {

TEST_CASE("shipped samples: every folder is present and its layout detected" * doctest::skip(kNoGdal)) {
#if RSD_HAVE_GDAL
  REQUIRE_MESSAGE(test::fs::is_directory(test::samples_dir()), "run tools/make_samples.sh");
  CHECK(detect_layout(sample("terramind-s1s2").string()).layout == Layout::terramesh);
  CHECK(detect_layout(sample("bigearthnet-s1s2").string()).layout == Layout::bigearthnet_mm);
  CHECK(detect_layout(sample("sen1floods11").string()).layout == Layout::sen1floods11);
  CHECK(detect_layout(sample("eurosat-ms-subset").string()).layout == Layout::eurosat_ms);
  CHECK(test::fs::exists(sample("README.md")));
#endif
}

TEST_CASE("shipped samples: every sample of every set loads" * doctest::skip(kNoGdal)) {
#if RSD_HAVE_GDAL
  size_t loaded = 0;
  for (const char* set : {"terramind-s1s2", "bigearthnet-s1s2", "sen1floods11", "eurosat-ms-subset"}) {
    const Dataset d = discover(sample(set).string());
    for (const SampleRef& ref : d.samples) {
      std::string error;
      const auto s = try_load_sample(ref, &error);
      CHECK_MESSAGE(s.has_value(), error);
      loaded += s.has_value() ? 1 : 0;
    }
  }
  CHECK(loaded == 5 + 6 + 1 + 270);
#endif
}

TEST_CASE("TerraMesh sample: S1RTC, S2L1C, S2L2A and LULC equal GDAL's reading" * doctest::skip(kNoGdal)) {
#if RSD_HAVE_GDAL
  const path root = sample("terramind-s1s2");
  const Dataset l1c = discover(root.string());
  REQUIRE(l1c.samples.size() == 5);
  LayoutOptions l2a_options;
  l2a_options.s2_product = S2Product::l2a;
  const Dataset l2a = discover(root.string(), Layout::terramesh, l2a_options);
  for (const SampleRef& ref : l1c.samples) {
    const Sample s = load_sample(ref);
    const path name = ref.id + ".tif";
    REQUIRE(s.s1);
    REQUIRE(s.s2);
    CHECK(s.s1->bands == std::vector<std::string>{"VV", "VH"});
    CHECK(s.s2->channels() == 13);
    CHECK(s.s2->bands[8] == "B8A");
    CHECK(s.s2->bands[10] == "B10");
    CHECK(s.s1->source_dtype == "Float32");
    CHECK(s.s2->source_dtype == "Int16");
    CHECK(s.s1->height == 224);
    const Mismatch m1 = compare_with_gdal(*s.s1, root / "S1RTC" / name, 0, 2);
    const Mismatch m2 = compare_with_gdal(*s.s2, root / "S2L1C" / name, 0, 13);
    CHECK_MESSAGE(m1.count == 0, m1.first);
    CHECK_MESSAGE(m2.count == 0, m2.first);
    check_georef(*s.s1, root / "S1RTC" / name);
    check_georef(*s.s2, root / "S2L1C" / name);
    REQUIRE(s.labels.map);
    const Mismatch ml = compare_with_gdal(*s.labels.map, root / "LULC" / name, 0, 1);
    CHECK_MESSAGE(ml.count == 0, ml.first);

    const Sample a = load_sample(find_ref(l2a, ref.id));
    REQUIRE(a.s2);
    CHECK(a.s2->channels() == 12);
    CHECK(a.s2->bands[9] == "B09");
    CHECK(a.s2->bands[10] == "B11");
    const Mismatch m3 = compare_with_gdal(*a.s2, root / "S2L2A" / name, 0, 12);
    CHECK_MESSAGE(m3.count == 0, m3.first);
  }
#endif
}

TEST_CASE("BigEarthNet-MM: pairs through corresponding_s2_patch, per-band files equal GDAL's reading" *
          doctest::skip(kNoGdal)) {
#if RSD_HAVE_GDAL
  const path root = sample("bigearthnet-s1s2");
  const Dataset d = discover(root.string());
  REQUIRE(d.samples.size() == 6);
  const SampleRef& ref = find_ref(d, "S2A_MSIL2A_20170617T113321_4_55");
  CHECK(ref.label.names == std::vector<std::string>{"Pastures"});
  const std::string s1name = "S1A_IW_GRDH_1SDV_20170617T064724_29UPU_4_55";
  CHECK(ref.s1.at(0).path == (root / "BigEarthNet-S1-Example" / s1name / (s1name + "_VV.tif")).string());

  for (const SampleRef& r : d.samples) {
    const Sample s = load_sample(r);
    REQUIRE(s.s1);
    REQUIRE(s.s2);
    CHECK(s.s2->bands == std::vector<std::string>{"B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B09",
                                                  "B11", "B12", "B8A"});
    CHECK(s.s2->height == 120);
    CHECK(s.s2->width == 120);
    CHECK(!s.labels.names.empty());
    const Mismatch vv = compare_with_gdal(*s.s1, r.s1[0].path, 0, 1);
    const Mismatch vh = compare_with_gdal(*s.s1, r.s1[1].path, 1, 1);
    CHECK_MESSAGE(vv.count == 0, vv.first);
    CHECK_MESSAGE(vh.count == 0, vh.first);
    for (size_t c = 0; c < r.s2.size(); ++c) {
      const std::string& b = r.s2[c].bands[0];
      const bool m60 = b == "B01" || b == "B09";
      const bool m20 = b == "B05" || b == "B06" || b == "B07" || b == "B8A" || b == "B11" || b == "B12";
      const Mismatch m = compare_with_gdal(*s.s2, r.s2[c].path, static_cast<int64_t>(c), 1, m60 ? 6 : m20 ? 2 : 1);
      CHECK_MESSAGE(m.count == 0, m.first);
    }
    // The result sits on the 10 m grid of B02.
    check_georef(*s.s2, r.s2[1].path);
  }
#endif
}

TEST_CASE("BigEarthNet resampling: a 20 m pixel fills its 2x2 block, a 60 m pixel its 6x6 block" *
          doctest::skip(kNoGdal)) {
#if RSD_HAVE_GDAL
  const path dir = sample("bigearthnet-s1s2/BigEarthNet-S2-Example/S2A_MSIL2A_20170617T113321_4_55");
  const std::string p = (dir / "S2A_MSIL2A_20170617T113321_4_55_").string();
  const Raster r = read_stack({{p + "B02.tif", {"B02"}, {}}, {p + "B05.tif", {"B05"}, {}}, {p + "B01.tif", {"B01"}, {}}});
  const test::NativeBand b05 = test::gdal_read_native(p + "B05.tif", 1);
  const test::NativeBand b01 = test::gdal_read_native(p + "B01.tif", 1);
  REQUIRE(b05.width == 60);
  REQUIRE(b01.width == 20);
  for (auto [y, x] : {std::pair<int, int>{0, 0}, {0, 1}, {1, 1}, {2, 3}, {5, 5}, {6, 6}, {59, 61}, {119, 119}, {77, 13}}) {
    CAPTURE(y);
    CAPTURE(x);
    CHECK(r.at(y, x, 1) == b05.values[static_cast<size_t>((y / 2) * 60 + x / 2)]);
    CHECK(r.at(y, x, 2) == b01.values[static_cast<size_t>((y / 6) * 20 + x / 6)]);
  }
  // Neighbours inside one block are equal, across a block boundary they come from the next pixel.
  CHECK(r.at(10, 10, 1) == r.at(11, 11, 1));
  CHECK(r.at(12, 17, 2) == r.at(17, 12, 2));
  CHECK(r.at(0, 2, 1) == b05.values[1]);
  CHECK(r.at(0, 6, 2) == b01.values[1]);
  CHECK(r.geo.geotransform[1] == 10.0);
  CHECK(r.geo.geotransform[5] == -10.0);
  CHECK(r.invalid_count == 0);
#endif
}

TEST_CASE("Sen1Floods11: S1Hand, S2Hand and LabelHand (-1 ignored) equal GDAL's reading" * doctest::skip(kNoGdal)) {
#if RSD_HAVE_GDAL
  const path root = sample("sen1floods11");
  const Dataset d = discover(root.string());
  REQUIRE(d.samples.size() == 1);
  const Sample s = load_sample(d.samples[0]);
  CHECK(s.id == "Spain_7370579");
  REQUIRE(s.s1);
  REQUIRE(s.s2);
  REQUIRE(s.labels.map);
  CHECK(s.s2->bands[8] == "B8A");
  const Mismatch m1 = compare_with_gdal(*s.s1, root / "Spain_7370579_S1Hand.tif", 0, 2);
  const Mismatch m2 = compare_with_gdal(*s.s2, root / "Spain_7370579_S2Hand.tif", 0, 13);
  CHECK_MESSAGE(m1.count == 0, m1.first);
  CHECK_MESSAGE(m2.count == 0, m2.first);
  check_georef(*s.s2, root / "Spain_7370579_S2Hand.tif");
  // The label keeps -1 as its value and marks it invalid: 99 such pixels in this chip.
  const test::NativeBand label = test::gdal_read_native(root / "Spain_7370579_LabelHand.tif", 1);
  int64_t ignored = 0, wrong = 0;
  for (size_t i = 0; i < label.values.size(); ++i) {
    wrong += s.labels.map->pixels[i] != label.values[i] ? 1 : 0;
    wrong += (s.labels.map->valid[i] == 0) != (label.values[i] == -1.0f) ? 1 : 0;
    ignored += label.values[i] == -1.0f ? 1 : 0;
  }
  CHECK(wrong == 0);
  CHECK(ignored == 99);
  CHECK(s.labels.map->invalid_count == 99);
#endif
}

TEST_CASE("EuroSAT-MS: 10 sorted classes, train/test splits, 13 bands in EuroSAT's order" * doctest::skip(kNoGdal)) {
#if RSD_HAVE_GDAL
  const path root = sample("eurosat-ms-subset");
  const Dataset d = discover(root.string());
  CHECK(d.classes == std::vector<std::string>{"AnnualCrop", "Forest", "HerbaceousVegetation", "Highway", "Industrial",
                                              "Pasture", "PermanentCrop", "Residential", "River", "SeaLake"});
  REQUIRE(d.samples.size() == 270);
  size_t train = 0, test_count = 0, annual_train = 0;
  for (const SampleRef& r : d.samples) {
    train += r.split == "train" ? 1 : 0;
    test_count += r.split == "test" ? 1 : 0;
    annual_train += (r.split == "train" && r.label.names[0] == "AnnualCrop") ? 1 : 0;
    CHECK(d.classes[static_cast<size_t>(r.label.class_index)] == r.label.names[0]);
  }
  CHECK(train == 216);
  CHECK(test_count == 54);
  CHECK(annual_train == 24);
  for (size_t i = 0; i < d.samples.size(); i += 27) {
    const SampleRef& r = d.samples[i];
    const Sample s = load_sample(r);
    REQUIRE(s.s2);
    CHECK(s.s2->bands.back() == "B8A");
    CHECK(s.s2->bands[9] == "B10");
    CHECK(s.s2->source_dtype == "UInt16");
    CHECK(s.labels.class_index == r.label.class_index);
    const Mismatch m = compare_with_gdal(*s.s2, r.s2[0].path, 0, 13);
    CHECK_MESSAGE(m.count == 0, m.first);
    check_georef(*s.s2, r.s2[0].path);
  }
#endif
}

TEST_CASE("raster_info: size, bands, dtype, nodata, CRS and geotransform" * doctest::skip(kNoGdal)) {
#if RSD_HAVE_GDAL
  const RasterInfo s1 = raster_info(sample("sen1floods11/Spain_7370579_S1Hand.tif").string());
  CHECK(s1.width == 512);
  CHECK(s1.height == 512);
  CHECK(s1.band_count == 2);
  CHECK(s1.dtypes == std::vector<std::string>{"Float32", "Float32"});
  REQUIRE(s1.nodata[0]);
  CHECK(std::isnan(*s1.nodata[0]));
  CHECK(s1.descriptions[0] == "VV");
  const RasterInfo s2 = raster_info(sample("terramind-s1s2/S2L2A/637U_59R_1_3.tif").string());
  CHECK(s2.band_count == 12);
  CHECK(s2.dtypes[0] == "Int16");
  CHECK(!s2.nodata[0]);
  CHECK(s2.geo.geotransform[1] == 10.0);
  const std::string text = format_raster_info(s2);
  CHECK(text.find("WGS 84 / UTM zone 32N") != std::string::npos);
  CHECK(text.find("12 band(s)") != std::string::npos);
#endif
}

TEST_CASE("windows: a window equals the same block of the full read, its origin moves" * doctest::skip(kNoGdal)) {
#if RSD_HAVE_GDAL
  const path file = sample("terramind-s1s2/S2L1C/637U_59R_1_3.tif");
  std::vector<std::string> bands;
  for (int b = 0; b < 13; ++b) bands.push_back("b" + std::to_string(b));
  const Raster full = read_raster(file.string(), bands);
  const Raster win = read_raster(file.string(), bands, Window{5, 7, 31, 11});
  REQUIRE(win.width == 31);
  REQUIRE(win.height == 11);
  const Mismatch m = compare_with_gdal(win, file, 0, 13, 1, 7, 5);
  CHECK_MESSAGE(m.count == 0, m.first);
  CHECK(win.at(0, 0, 3) == full.at(7, 5, 3));
  CHECK(win.at(10, 30, 12) == full.at(17, 35, 12));
  CHECK(win.geo.geotransform[0] == full.geo.geotransform[0] + 5 * full.geo.geotransform[1]);
  CHECK(win.geo.geotransform[3] == full.geo.geotransform[3] + 7 * full.geo.geotransform[5]);

  // A window on a stack is in the 10 m grid; the coarse bands follow the same rule.
  const path dir = sample("bigearthnet-s1s2/BigEarthNet-S2-Example/S2A_MSIL2A_20170617T113321_4_55");
  const std::string p = (dir / "S2A_MSIL2A_20170617T113321_4_55_").string();
  const std::vector<RasterFile> files = {{p + "B02.tif", {"B02"}, {}}, {p + "B05.tif", {"B05"}, {}},
                                         {p + "B01.tif", {"B01"}, {}}};
  const Raster stack = read_stack(files);
  const Raster part = read_stack(files, Window{13, 29, 50, 37});
  int64_t diff = 0;
  for (int64_t y = 0; y < 37; ++y) {
    for (int64_t x = 0; x < 50; ++x) {
      for (int64_t c = 0; c < 3; ++c) diff += part.at(y, x, c) != stack.at(y + 29, x + 13, c) ? 1 : 0;
    }
  }
  CHECK(diff == 0);
#endif
}

TEST_CASE("dtypes: uint8, uint16, int16, float32 and float64 read exactly (float64 rounded once)" *
          doctest::skip(kNoGdal)) {
#if RSD_HAVE_GDAL
  test::TempDir tmp("rsd_dtypes");
  struct Case {
    GDALDataType type;
    std::function<double(int, int, int)> value;
  };
  const std::vector<Case> cases = {
      {GDT_Byte, [](int b, int y, int x) { return (b * 97 + y * 13 + x * 7) % 256; }},
      {GDT_UInt16, [](int b, int y, int x) { return 65535 - (b * 1000 + y * 100 + x); }},
      {GDT_Int16, [](int b, int y, int x) { return -32768 + b * 20000 + y * 300 + x; }},
      {GDT_Float32, [](int b, int y, int x) { return static_cast<float>(-12.345 + b * 0.1 + y * 1e-3 - x * 7.7); }},
      {GDT_Float64, [](int b, int y, int x) { return 0.1 + b * 1e10 + y * 1e-12 - x / 3.0; }},
  };
  for (const Case& c : cases) {
    test::TifSpec spec;
    spec.width = 9;
    spec.height = 5;
    spec.bands = 3;
    spec.type = c.type;
    spec.value = c.value;
    const path file = tmp / (std::string(GDALGetDataTypeName(c.type)) + ".tif");
    test::write_tif(file, spec);
    const Raster r = read_raster(file.string(), {"a", "b", "c"});
    CAPTURE(GDALGetDataTypeName(c.type));
    CHECK(r.source_dtype == GDALGetDataTypeName(c.type));
    CHECK(r.invalid_count == 0);
    int64_t bad = 0;
    for (int b = 0; b < 3; ++b) {
      for (int y = 0; y < 5; ++y) {
        for (int x = 0; x < 9; ++x) bad += r.at(y, x, b) != static_cast<float>(c.value(b, y, x)) ? 1 : 0;
      }
    }
    CHECK(bad == 0);
  }
#endif
}

TEST_CASE("nodata and NaN are marked invalid and counted; NaN is stored as 0" * doctest::skip(kNoGdal)) {
#if RSD_HAVE_GDAL
  test::TempDir tmp("rsd_nodata");
  test::TifSpec spec;
  spec.width = 6;
  spec.height = 4;
  spec.bands = 2;
  spec.type = GDT_Float32;
  spec.nodata = -9999.0;
  spec.value = [](int b, int y, int x) {
    if (b == 0 && y == 1 && x == 2) return -9999.0;
    if (b == 1 && y == 3 && x == 5) return std::nan("");
    if (b == 1 && y == 0 && x == 0) return -9999.0;
    return 1.5 * x - y;
  };
  test::write_tif(tmp / "f.tif", spec);
  const Raster r = read_raster((tmp / "f.tif").string(), {"VV", "VH"});
  CHECK(r.invalid_count == 3);
  CHECK(r.valid[static_cast<size_t>((1 * 6 + 2) * 2 + 0)] == 0);
  CHECK(r.at(1, 2, 0) == -9999.0f);
  CHECK(r.valid[static_cast<size_t>((3 * 6 + 5) * 2 + 1)] == 0);
  CHECK(r.at(3, 5, 1) == 0.0f);
  CHECK(r.valid[0 * 2 + 1] == 0);
  CHECK(r.valid[0 * 2 + 0] == 1);
  CHECK(r.at(2, 4, 1) == 4.0f);
  int64_t zeros = 0;
  for (uint8_t v : r.valid) zeros += v == 0 ? 1 : 0;
  CHECK(zeros == r.invalid_count);

  // A NaN without any nodata set is still invalid; integer nodata too.
  test::TifSpec ints;
  ints.type = GDT_UInt16;
  ints.nodata = 0.0;
  ints.value = [](int, int y, int x) { return (x + y) % 3 == 0 ? 0.0 : 7.0; };
  test::write_tif(tmp / "u.tif", ints);
  const Raster u = read_raster((tmp / "u.tif").string(), {"B02"});
  int64_t expect = 0;
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 8; ++x) expect += (x + y) % 3 == 0 ? 1 : 0;
  }
  CHECK(u.invalid_count == expect);
#endif
}

TEST_CASE("GDAL errors are captured per thread: concurrent readers, no stderr output" * doctest::skip(kNoGdal)) {
#if RSD_HAVE_GDAL
  test::TempDir tmp("rsd_threads");
  test::TifSpec spec;
  test::write_tif(tmp / "good.tif", spec);
  std::vector<std::string> errors(4);
  std::vector<int> good(4, 0);
  fflush(stderr);
  const int saved = dup(2);
  const int sink = open((tmp / "stderr.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  REQUIRE(saved >= 0);
  REQUIRE(sink >= 0);
  dup2(sink, 2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const path bad = tmp / ("bad" + std::to_string(t) + ".tif");
      test::write_text(bad, "not a tiff " + std::to_string(t));
      for (int i = 0; i < 20; ++i) {
        try {
          read_raster(bad.string(), {"x"});
        } catch (const Error& e) {
          errors[static_cast<size_t>(t)] = e.what();
        }
        good[static_cast<size_t>(t)] += read_raster((tmp / "good.tif").string(), {"x"}).width == 8 ? 1 : 0;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  close(sink);
  for (int t = 0; t < 4; ++t) {
    CHECK(errors[static_cast<size_t>(t)].find("bad" + std::to_string(t) + ".tif") != std::string::npos);
    CHECK(errors[static_cast<size_t>(t)].find("not a readable GeoTIFF") != std::string::npos);
    CHECK(good[static_cast<size_t>(t)] == 20);
  }
  CHECK(test::fs::file_size(tmp / "stderr.txt") == 0);
#endif
}



TEST_CASE("reader: a missing file names the file" * doctest::skip(kNoGdal)) {
#if RSD_HAVE_GDAL
  const std::string p = (test::fs::temp_directory_path() / "rsd_no_such_dir" / "missing_s2.tif").string();
  CHECK_THROWS_WITH_AS(read_raster(p, {"B02"}), doctest::Contains((p + ": no such file").c_str()), Error);
  CHECK_THROWS_WITH_AS(raster_info(p), doctest::Contains("missing_s2.tif: no such file"), Error);
#endif
}

TEST_CASE("reader: a truncated TIFF names the file and says it is damaged" * doctest::skip(kNoGdal)) {
#if RSD_HAVE_GDAL
  test::TempDir tmp("rsd_trunc");
  for (const char* rel : {"terramind-s1s2/S2L1C/637U_59R_1_3.tif", "eurosat-ms-subset/train/Forest/Forest_1031.tif"}) {
    const path cut = tmp / "cut.tif";
    test::fs::copy_file(sample(rel), cut, test::fs::copy_options::overwrite_existing);
    // Cut inside the pixel data (the header survives) and inside the header itself.
    const uintmax_t full = test::fs::file_size(sample(rel));
    for (uintmax_t keep : {full / 2, full / 20, uintmax_t{100}}) {
      test::fs::resize_file(cut, keep);
      CAPTURE(rel);
      CAPTURE(keep);
      std::vector<std::string> names(13, "b");
      try {
        read_raster(cut.string(), names);
        FAIL("a truncated TIFF was read without error");
      } catch (const Error& e) {
        const std::string msg = e.what();
        CHECK(msg.find(cut.string()) != std::string::npos);
        const bool says = msg.find("truncated or damaged") != std::string::npos ||
                          msg.find("not a readable GeoTIFF") != std::string::npos;
        CHECK_MESSAGE(says, msg);
        CHECK(msg.find("GDAL: ") != std::string::npos);
      }
    }
  }
#endif
}

TEST_CASE("reader: a non-TIFF file names the file and quotes GDAL" * doctest::skip(kNoGdal)) {
#if RSD_HAVE_GDAL
  test::TempDir tmp("rsd_nontiff");
  test::write_text(tmp / "notes.tif", "this is plain text, not a GeoTIFF\n");
  const std::string p = (tmp / "notes.tif").string();
  CHECK_THROWS_WITH_AS(read_raster(p, {"B02"}), doctest::Contains((p + ": not a readable GeoTIFF (GDAL: ").c_str()), Error);
  // A real raster of another format is refused too: only GeoTIFFs are read.
  test::write_text(tmp / "grid.asc", "ncols 2\nnrows 2\nxllcorner 0\nyllcorner 0\ncellsize 1\n1 2\n3 4\n");
  CHECK_THROWS_WITH_AS(read_raster((tmp / "grid.asc").string(), {"x"}), doctest::Contains("not a readable GeoTIFF"),
                       Error);
#endif
}

TEST_CASE("reader: a wrong band count names the file, expected and found counts" * doctest::skip(kNoGdal)) {
#if RSD_HAVE_GDAL
  const std::string p = sample("terramind-s1s2/S2L2A/637U_59R_1_3.tif").string();
  std::vector<std::string> l1c(13, "B");
  CHECK_THROWS_WITH_AS(read_raster(p, l1c),
                       doctest::Contains((p + ": wrong band count: the file has 12 band(s), expected 13").c_str()), Error);
  CHECK_THROWS_WITH_AS(read_raster(RasterFile{p, {"x"}, {13}}), doctest::Contains("band 13 requested, the file has 12"),
                       Error);
#endif
}

TEST_CASE("reader: a window outside the raster, stacked files of different footprints" * doctest::skip(kNoGdal)) {
#if RSD_HAVE_GDAL
  test::TempDir tmp("rsd_badwin");
  test::TifSpec a;
  test::write_tif(tmp / "a.tif", a);
  CHECK_THROWS_WITH_AS(read_raster((tmp / "a.tif").string(), {"x"}, Window{4, 4, 5, 2}),
                       doctest::Contains("does not fit in the 8 x 8 raster"), Error);
  test::TifSpec b = a;
  b.width = 4;
  b.height = 4;
  b.geotransform = {500000.0, 20.0, 0.0, 6000000.0 + 20.0, 0.0, -20.0};  // shifted by one 20 m pixel
  test::write_tif(tmp / "b.tif", b);
  CHECK_THROWS_WITH_AS(read_stack({{(tmp / "a.tif").string(), {"x"}, {}}, {(tmp / "b.tif").string(), {"y"}, {}}}),
                       doctest::Contains("b.tif (4 x 4 px"), Error);
  test::TifSpec c = a;
  c.epsg = 32633;
  test::write_tif(tmp / "c.tif", c);
  CHECK_THROWS_WITH_AS(read_stack({{(tmp / "a.tif").string(), {"x"}, {}}, {(tmp / "c.tif").string(), {"y"}, {}}}),
                       doctest::Contains("different CRS"), Error);
#endif
}

}

}  // namespace rsd::data
