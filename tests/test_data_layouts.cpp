// Dataset layouts on synthetic folders built here from small GeoTIFFs (the layouts with no shipped
// sample: SEN12MS, DFC2020, SSL4EO-S12, CSV manifests, single-modality folders, Sen1Floods11's
// folder form, BigEarthNet's failure cases), and the bad-input errors of loading a sample.
#include <doctest/doctest.h>

#include "data/layouts.h"
#include "engine/error.h"
#include "tests/support/gdal_test_util.h"
#include "tests/support/test_paths.h"

namespace rsd::data {
namespace {

#if RSD_HAVE_GDAL
using test::fs::path;
using test::kNoGdal;

// A w x h raster of `bands` bands with `px` m pixels whose top-left corner is (x0, y0).
test::TifSpec grid(int w, int h, int bands, GDALDataType type = GDT_UInt16, double px = 10.0,
                   double x0 = 500000.0, double y0 = 6000000.0) {
  test::TifSpec s;
  s.width = w;
  s.height = h;
  s.bands = bands;
  s.type = type;
  s.geotransform = {x0, px, 0.0, y0, 0.0, -px};
  return s;
}

// Value of band b at (y, x) for a file tagged `tag`: different per file, band and pixel.
test::TifSpec tagged(test::TifSpec s, double tag) {
  s.value = [tag](int b, int y, int x) { return tag + 100.0 * b + 10.0 * y + x; };
  return s;
}

std::string message_of(const SampleRef& ref) {
  std::string error;
  const auto s = try_load_sample(ref, &error);
  CHECK(!s.has_value());
  return error;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// TerraMesh-style folder with one place; the caller shapes S1 and S2.
path terramesh(const test::TempDir& tmp, const test::TifSpec& s1, const test::TifSpec& s2) {
  test::write_tif(tmp / "S1RTC/p.tif", s1);
  test::write_tif(tmp / "S2L1C/p.tif", s2);
  return tmp.path();
}
#endif

}  // namespace

TEST_SUITE("data") {

TEST_CASE("layout names round-trip; an unknown name lists the known ones") {
  for (Layout l : {Layout::sen12ms, Layout::ssl4eo_s12, Layout::bigearthnet_mm, Layout::terramesh,
                   Layout::csv_manifest, Layout::eurosat_ms, Layout::sen1floods11, Layout::dfc2020,
                   Layout::single_folder}) {
    CHECK(parse_layout(layout_name(l)) == l);
  }
  CHECK_THROWS_WITH_AS(parse_layout("sen2"), doctest::Contains("known layouts: sen12ms, ssl4eo-s12"), Error);
}

TEST_CASE("SEN12MS (synthetic): ROIs*/s1_*/s2_*/lc_*, IGBP from band 1 of lc" * doctest::skip(kNoGdal)) {
#if RSD_HAVE_GDAL
  test::TempDir tmp("rsd_sen12ms");
  for (const char* patch : {"p30", "p31"}) {
    const std::string p = patch;
    test::write_tif(tmp / ("ROIs1158_spring/s1_1/ROIs1158_spring_s1_1_" + p + ".tif"), tagged(grid(8, 8, 2, GDT_Float32), -20));
    test::write_tif(tmp / ("ROIs1158_spring/s2_1/ROIs1158_spring_s2_1_" + p + ".tif"), tagged(grid(8, 8, 13), 1000));
    test::write_tif(tmp / ("ROIs1158_spring/lc_1/ROIs1158_spring_lc_1_" + p + ".tif"), tagged(grid(8, 8, 4), 1));
  }
  test::write_tif(tmp / "ROIs1868_summer/s1_5/ROIs1868_summer_s1_5_p7.tif", grid(8, 8, 2, GDT_Float32));
  test::write_tif(tmp / "ROIs1868_summer/s2_5/ROIs1868_summer_s2_5_p7.tif", grid(8, 8, 13));

  CHECK(detect_layout(tmp.path().string()).layout == Layout::sen12ms);
  const Dataset d = discover(tmp.path().string());
  REQUIRE(d.samples.size() == 3);
  CHECK(d.samples[0].id == "ROIs1158_spring_1_p30");
  CHECK(d.samples[2].id == "ROIs1868_summer_5_p7");
  CHECK(d.samples[2].label.kind == LabelKind::none);
  const Sample s = load_sample(d.samples[1]);
  REQUIRE(s.s1);
  REQUIRE(s.s2);
  CHECK(s.s1->bands == std::vector<std::string>{"VV", "VH"});
  CHECK(s.s2->channels() == 13);
  CHECK(s.s2->bands[8] == "B8A");
  CHECK(s.s2->at(3, 4, 12) == 1000 + 1200 + 30 + 4);
  REQUIRE(s.labels.map);
  CHECK(s.labels.map->bands == std::vector<std::string>{"IGBP"});
  CHECK(s.labels.map->at(5, 6, 0) == 1 + 50 + 6);
#endif
}

TEST_CASE("DFC2020 (synthetic): dfc_* label maps, split from the ROI folder" * doctest::skip(kNoGdal)) {
#if RSD_HAVE_GDAL
  test::TempDir tmp("rsd_dfc");
  test::write_tif(tmp / "ROIs0000_test/s1_0/ROIs0000_test_s1_0_p1.tif", grid(8, 8, 2, GDT_Float32));
  test::write_tif(tmp / "ROIs0000_test/s2_0/ROIs0000_test_s2_0_p1.tif", grid(8, 8, 13));
  test::write_tif(tmp / "ROIs0000_test/dfc_0/ROIs0000_test_dfc_0_p1.tif", tagged(grid(8, 8, 1, GDT_Byte), 2));
  const Detection det = detect_layout(tmp.path().string());
  CHECK(det.layout == Layout::dfc2020);
  CHECK(contains(det.reason, "DFC2020"));
  const Dataset d = discover(tmp.path().string());
  REQUIRE(d.samples.size() == 1);
  CHECK(d.samples[0].split == "test");
  const Sample s = load_sample(d.samples[0]);
  REQUIRE(s.labels.map);
  CHECK(s.labels.map->at(1, 2, 0) == 2 + 10 + 2);
#endif
}

TEST_CASE("SSL4EO-S12 (synthetic): per-band files on the 10 m grid, seasons paired by date" * doctest::skip(kNoGdal)) {
#if RSD_HAVE_GDAL
  test::TempDir tmp("rsd_ssl4eo");
  // 10 m bands 12 x 12, 20 m bands 6 x 6, 60 m bands 2 x 2 over the same 120 m square.
  const auto write_s2 = [&](const path& dir, bool l1c) {
    for (const char* b : {"B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12"}) {
      const std::string band = b;
      if (!l1c && band == "B10") continue;
      const bool m60 = band == "B1" || band == "B9" || band == "B10";
      const bool m10 = band == "B2" || band == "B3" || band == "B4" || band == "B8";
      const int n = m60 ? 2 : m10 ? 12 : 6;
      test::write_tif(dir / (band + ".tif"), tagged(grid(n, n, 1, GDT_UInt16, 120.0 / n), 1000 * (band.size() + 1)));
    }
  };
  const char* s2_seasons[] = {"20200318T102021_20200318T102022_T32TPT", "20200620T101559_20200620T101559_T32TPT",
                              "20200915T101031_20200915T101031_T32TPT", "20201210T102421_20201210T102421_T32TPT"};
  // Sorted by name the S1B season comes last, by date first: pairing must follow the dates.
  const char* s1_seasons[] = {"S1B_IW_GRDH_1SDV_20200316T053322_x", "S1A_IW_GRDH_1SDV_20200619T053300_x",
                              "S1A_IW_GRDH_1SDV_20200910T053301_x", "S1A_IW_GRDH_1SDV_20201207T053302_x"};
  for (int i = 0; i < 4; ++i) {
    write_s2(tmp / "s2c/0000000" / s2_seasons[i], true);
    write_s2(tmp / "s2a/0000000" / s2_seasons[i], false);
    for (const char* pol : {"VV", "VH"}) {
      test::write_tif(tmp / "s1/0000000" / s1_seasons[i] / (std::string(pol) + ".tif"), grid(12, 12, 1, GDT_Float32, 10.0));
    }
  }
  // A second location with one S1 season fewer than S2 seasons.
  write_s2(tmp / "s2c/0000001" / s2_seasons[0], true);
  write_s2(tmp / "s2c/0000001" / s2_seasons[1], true);
  for (const char* pol : {"VV", "VH"}) {
    test::write_tif(tmp / "s1/0000001" / s1_seasons[1] / (std::string(pol) + ".tif"), grid(12, 12, 1, GDT_Float32));
  }

  CHECK(detect_layout(tmp.path().string()).layout == Layout::ssl4eo_s12);
  const Dataset d = discover(tmp.path().string());
  REQUIRE(d.samples.size() == 6);
  CHECK(d.samples[0].id == std::string("0000000/") + s2_seasons[0]);
  CHECK(contains(d.samples[0].s1.at(0).path, "S1B_IW_GRDH_1SDV_20200316"));
  CHECK(contains(d.samples[3].s1.at(0).path, "20201207"));
  // 0000001: its June S2 gets the June S1; March has nothing left.
  CHECK(contains(d.samples[5].s1.at(0).path, "20200619"));
  CHECK(contains(message_of(d.samples[4]), "no S1 acquisition left to pair"));

  const Sample s = load_sample(d.samples[1]);
  REQUIRE(s.s2);
  REQUIRE(s.s1);
  CHECK(s.s2->channels() == 13);
  CHECK(s.s2->height == 12);
  CHECK(s.s2->bands == std::vector<std::string>{"B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09",
                                                "B10", "B11", "B12"});
  // B01 (60 m, file value 3000 + 10 y + x) at 10 m pixel (7, 11) comes from (1, 1); B05 (20 m) from (3, 5).
  CHECK(s.s2->at(7, 11, 0) == 3000 + 10 + 1);
  CHECK(s.s2->at(7, 11, 4) == 3000 + 30 + 5);
  CHECK(s.s2->at(7, 11, 1) == 3000 + 70 + 11);
  CHECK(s.s2->geo.geotransform[1] == 10.0);

  LayoutOptions l2a;
  l2a.s2_product = S2Product::l2a;
  const Dataset a = discover(tmp.path().string(), Layout::ssl4eo_s12, l2a);
  REQUIRE(a.samples.size() == 4);
  CHECK(load_sample(a.samples[0]).s2->channels() == 12);
#endif
}

TEST_CASE("CSV manifest (synthetic): header in any order, band lines, relative paths, labels" *
          doctest::skip(kNoGdal)) {
#if RSD_HAVE_GDAL
  test::TempDir tmp("rsd_csv");
  test::write_tif(tmp / "pairs/a_s1.tif", grid(8, 8, 2, GDT_Float32));
  test::write_tif(tmp / "pairs/a_s2.tif", tagged(grid(8, 8, 4), 7));
  test::write_tif(tmp / "pairs/b_s2.tif", grid(8, 8, 4));
  test::write_tif(tmp / "pairs/b_map.tif", grid(8, 8, 1, GDT_Byte));
  test::write_text(tmp / "m/list.csv",
                   "# s1_bands: VV VH\n# s2_bands: B02,B03,B04,B08\nlabel,s2,s1\n"
                   "Forest,../pairs/a_s2.tif,../pairs/a_s1.tif\n\n"
                   "../pairs/b_map.tif,\"../pairs/b_s2.tif\",\n");
  const Detection det = detect_layout((tmp / "m/list.csv").string());
  CHECK(det.layout == Layout::csv_manifest);
  const Dataset d = discover((tmp / "m/list.csv").string());
  REQUIRE(d.samples.size() == 2);
  CHECK(d.samples[0].id == "../pairs/a_s2");
  CHECK(d.classes == std::vector<std::string>{"Forest"});
  CHECK(d.samples[0].label.class_index == 0);
  CHECK(d.samples[1].s1.empty());
  CHECK(d.samples[1].label.kind == LabelKind::map);
  const Sample s = load_sample(d.samples[0]);
  REQUIRE(s.s2);
  CHECK(s.s2->bands == std::vector<std::string>{"B02", "B03", "B04", "B08"});
  CHECK(s.s2->at(1, 1, 3) == 7 + 300 + 11);
  CHECK(s.labels.names == std::vector<std::string>{"Forest"});
  CHECK(load_sample(d.samples[1]).labels.map.has_value());

  // No header: s1, s2 positional; bands from options.
  test::write_text(tmp / "plain.csv", "pairs/a_s1.tif,pairs/a_s2.tif\n");
  LayoutOptions opt;
  opt.s1_bands = {"VV", "VH"};
  opt.s2_bands = {"B02", "B03", "B04", "B08"};
  const Dataset p = discover((tmp / "plain.csv").string(), Layout::csv_manifest, opt);
  REQUIRE(p.samples.size() == 1);
  CHECK(load_sample(p.samples[0]).s1->channels() == 2);
#endif
}

TEST_CASE("single-modality folder and Sen1Floods11 sub-folders (synthetic)" * doctest::skip(kNoGdal)) {
#if RSD_HAVE_GDAL
  test::TempDir tmp("rsd_single");
  test::write_tif(tmp / "imgs/x.tif", grid(8, 8, 3));
  test::write_tif(tmp / "imgs/y.tif", grid(8, 8, 3));
  CHECK(detect_layout((tmp / "imgs").string()).layout == Layout::single_folder);
  LayoutOptions opt;
  opt.s2_bands = {"B04", "B03", "B02"};
  const Dataset d = discover((tmp / "imgs").string(), opt);
  REQUIRE(d.samples.size() == 2);
  CHECK(d.samples[1].id == "y");
  CHECK(load_sample(d.samples[0]).s2->bands == opt.s2_bands);
  opt.modality = "s1";
  opt.s1_bands = {"VV", "VH", "angle"};
  CHECK(load_sample(discover((tmp / "imgs").string(), opt).samples[0]).s1.has_value());

  for (const char* chip : {"Bolivia_1", "Ghana_2"}) {
    const std::string c = chip;
    test::write_tif(tmp / ("floods/S1Hand/" + c + "_S1Hand.tif"), grid(8, 8, 2, GDT_Float32));
    test::write_tif(tmp / ("floods/S2Hand/" + c + "_S2Hand.tif"), grid(8, 8, 13, GDT_Int16));
    test::write_tif(tmp / ("floods/LabelHand/" + c + "_LabelHand.tif"), grid(8, 8, 1, GDT_Int16));
  }
  CHECK(detect_layout((tmp / "floods").string()).layout == Layout::sen1floods11);
  const Dataset f = discover((tmp / "floods").string());
  REQUIRE(f.samples.size() == 2);
  CHECK(f.samples[1].id == "Ghana_2");
  CHECK(load_sample(f.samples[1]).labels.map.has_value());
#endif
}



TEST_CASE("layouts: no known structure, a folder without band names, a CSV row without bands" *
          doctest::skip(kNoGdal)) {
#if RSD_HAVE_GDAL
  test::TempDir tmp("rsd_layout_err");
  test::fs::create_directories(tmp / "empty/sub");
  CHECK_THROWS_WITH_AS(detect_layout((tmp / "empty").string()), doctest::Contains("no known dataset layout found"), Error);
  CHECK_THROWS_WITH_AS(detect_layout((tmp / "nothing").string()), doctest::Contains("nothing: no such file or folder"),
                       Error);
  test::write_tif(tmp / "imgs/x.tif", grid(8, 8, 3));
  CHECK_THROWS_WITH_AS(discover((tmp / "imgs").string()), doctest::Contains("needs its s2 band names"), Error);
  test::write_text(tmp / "m.csv", "s1,s2\nimgs/x.tif,\n");
  CHECK_THROWS_WITH_AS(discover((tmp / "m.csv").string()), doctest::Contains("m.csv:2: an S1 path but no S1 band names"),
                       Error);
#endif
}

TEST_CASE("load_sample: a missing file and a wrong band count in a layout name the file" * doctest::skip(kNoGdal)) {
#if RSD_HAVE_GDAL
  test::TempDir tmp("rsd_load_err");
  test::write_tif(tmp / "S2L1C/p.tif", grid(8, 8, 12));  // an L2A-like file where L1C (13 bands) belongs
  test::write_tif(tmp / "S2L1C/q.tif", grid(8, 8, 13));
  test::fs::create_directories(tmp / "S1RTC");
  test::write_tif(tmp / "S1RTC/p.tif", grid(8, 8, 2, GDT_Float32));
  const Dataset d = discover(tmp.path().string());
  REQUIRE(d.samples.size() == 2);
  const std::string band = message_of(d.samples[0]);
  CHECK(contains(band, (tmp / "S2L1C/p.tif").string()));
  CHECK(contains(band, "wrong band count: the file has 12 band(s), expected 13"));
  const std::string missing = message_of(d.samples[1]);
  CHECK(contains(missing, (tmp / "S1RTC/q.tif").string() + ": no such file"));
#endif
}

TEST_CASE("load_sample: S1 and S2 of different size, footprint or CRS name both files" * doctest::skip(kNoGdal)) {
#if RSD_HAVE_GDAL
  struct Case {
    const char* what;
    test::TifSpec s1;
    const char* expect;
  };
  test::TifSpec other_crs = grid(8, 8, 2, GDT_Float32);
  other_crs.epsg = 32633;
  const std::vector<Case> cases = {
      {"size", grid(10, 10, 2, GDT_Float32), "different sizes (10 x 10 px"},
      {"footprint", grid(8, 8, 2, GDT_Float32, 10.0, 500100.0), "different footprints"},
      {"pixel size", grid(8, 8, 2, GDT_Float32, 20.0), "different footprints"},
      {"crs", other_crs, "different CRS"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    test::TempDir tmp("rsd_pair_err");
    terramesh(tmp, c.s1, grid(8, 8, 13));
    const std::string msg = message_of(discover(tmp.path().string()).samples.at(0));
    CHECK(contains(msg, (tmp / "S1RTC/p.tif").string()));
    CHECK(contains(msg, (tmp / "S2L1C/p.tif").string()));
    CHECK(contains(msg, "S1 and S2 of one sample have"));
    CHECK_MESSAGE(contains(msg, c.expect), msg);
  }
  // Half a hundredth of a pixel is within the default tolerance.
  test::TempDir tmp("rsd_pair_ok");
  terramesh(tmp, grid(8, 8, 2, GDT_Float32, 10.0, 500000.05), grid(8, 8, 13));
  std::string error;
  CHECK_MESSAGE(try_load_sample(discover(tmp.path().string()).samples.at(0), &error).has_value(), error);
#endif
}

TEST_CASE("load_sample: a label map of another size names both files" * doctest::skip(kNoGdal)) {
#if RSD_HAVE_GDAL
  test::TempDir tmp("rsd_label_err");
  terramesh(tmp, grid(8, 8, 2, GDT_Float32), grid(8, 8, 13));
  test::write_tif(tmp / "LULC/p.tif", grid(4, 4, 1, GDT_Byte, 20.0));
  const std::string msg = message_of(discover(tmp.path().string()).samples.at(0));
  CHECK(contains(msg, (tmp / "LULC/p.tif").string()));
  CHECK(contains(msg, (tmp / "S2L1C/p.tif").string()));
  CHECK(contains(msg, "the imagery and the label map of one sample have different sizes"));
#endif
}

TEST_CASE("load_sample: an all-nodata sample names the file" * doctest::skip(kNoGdal)) {
#if RSD_HAVE_GDAL
  test::TempDir tmp("rsd_nodata_err");
  test::TifSpec s2 = grid(8, 8, 13);
  s2.nodata = 0.0;
  s2.value = [](int, int, int) { return 0.0; };
  terramesh(tmp, grid(8, 8, 2, GDT_Float32), s2);
  const std::string msg = message_of(discover(tmp.path().string()).samples.at(0));
  CHECK(contains(msg, (tmp / "S2L1C/p.tif").string() + ": all-nodata sample"));

  test::TifSpec s1 = grid(8, 8, 2, GDT_Float32);
  s1.value = [](int, int, int) { return std::nan(""); };
  test::TempDir tmp2("rsd_nan_err");
  terramesh(tmp2, s1, grid(8, 8, 13));
  CHECK(contains(message_of(discover(tmp2.path().string()).samples.at(0)),
                 (tmp2 / "S1RTC/p.tif").string() + ": all-nodata sample"));
#endif
}

TEST_CASE("BigEarthNet (synthetic): a missing S2 partner and broken metadata are per-sample errors" *
          doctest::skip(kNoGdal)) {
#if RSD_HAVE_GDAL
  test::TempDir tmp("rsd_ben_err");
  const auto s1_patch = [&](const std::string& name, const std::string& json) {
    for (const char* pol : {"VV", "VH"}) {
      test::write_tif(tmp / ("S1" / path(name) / (name + "_" + pol + ".tif")), grid(12, 12, 1, GDT_Float32));
    }
    test::write_text(tmp / ("S1" / path(name) / (name + "_labels_metadata.json")), json);
  };
  s1_patch("S1A_a", R"({"labels": ["Pastures"], "corresponding_s2_patch": "S2A_gone"})");
  s1_patch("S1A_b", R"({"labels": ["Pastures"], )");
  CHECK(detect_layout(tmp.path().string()).layout == Layout::bigearthnet_mm);
  const Dataset d = discover(tmp.path().string());
  REQUIRE(d.samples.size() == 2);
  const std::string gone = message_of(d.samples[0]);
  CHECK(contains(gone, "S1A_a_labels_metadata.json"));
  CHECK(contains(gone, "its S2 partner S2A_gone (corresponding_s2_patch) is not in the dataset"));
  const std::string broken = message_of(d.samples[1]);
  CHECK(contains(broken, "S1A_b_labels_metadata.json: not valid JSON"));
#endif
}

TEST_CASE("without GDAL, reading a GeoTIFF says rsd was built without it" * doctest::skip(RSD_HAVE_GDAL != 0)) {
  SampleRef ref;
  ref.id = "x";
  ref.s2 = {RasterFile{"x.tif", {"B02"}, {}}};
  CHECK_THROWS_WITH_AS(load_sample(ref), doctest::Contains("built without GDAL"), Error);
  CHECK_THROWS_WITH_AS(read_raster("x.tif", {"B02"}), doctest::Contains("x.tif: rsd was built without GDAL"), Error);
  std::string error;
  CHECK(!try_load_sample(ref, &error).has_value());
  CHECK(error.find("built without GDAL") != std::string::npos);
}

}

}  // namespace rsd::data
