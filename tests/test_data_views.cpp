#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "data/views.h"
#include "engine/error.h"
#include "tests/support/raster_test_util.h"

using namespace rsd;
using namespace rsd::data;

namespace {

const std::vector<std::string> kS2Bands = {"B01", "B02", "B03", "B04", "B05", "B06", "B07",
                                           "B08", "B8A", "B09", "B10", "B11", "B12"};

using rsd::test::make_raster;

// Pixel value encodes its place: 1000 y + x, the same in every band of S1 and S2.
float place(int64_t y, int64_t x, int64_t) { return static_cast<float>(1000 * y + x); }

Sample paired_sample(int64_t height, int64_t width, const std::function<float(int64_t, int64_t, int64_t)>& f) {
  Sample s;
  s.id = "test/pair_0";
  s.s2 = make_raster(kS2Bands, height, width, f, "s2.tif");
  s.s1 = make_raster({"VV", "VH"}, height, width, f, "s1.tif");
  return s;
}

// A sample whose band c of S2 holds c + 100 at every pixel, VV 200 and VH 201: a view's values tell
// which band it took.
Sample band_coded_sample(int64_t size) {
  Sample s;
  s.id = "test/coded";
  s.s2 = make_raster(kS2Bands, size, size, [](int64_t, int64_t, int64_t c) { return static_cast<float>(100 + c); }, "s2.tif");
  s.s1 = make_raster({"VV", "VH"}, size, size, [](int64_t, int64_t, int64_t c) { return static_cast<float>(200 + c); }, "s1.tif");
  return s;
}

float noise(int64_t y, int64_t x, int64_t c) {
  return std::sin(0.37f * static_cast<float>(y) + 1.3f * static_cast<float>(x * (c + 1))) +
         0.1f * static_cast<float>(c);
}

std::vector<std::vector<float>> pixels_2d(const Raster& r) {
  std::vector<std::vector<float>> out(static_cast<size_t>(r.height));
  for (int64_t y = 0; y < r.height; ++y)
    for (int64_t x = 0; x < r.width; ++x) out[static_cast<size_t>(y)].push_back(r.at(y, x, 0));
  return out;
}

GeometricTransform flips_rot(int64_t h, int64_t w, bool flip_h, bool flip_v, int rot) {
  GeometricTransform t = GeometricTransform::identity(h, w);
  t.flip_h = flip_h;
  t.flip_v = flip_v;
  t.rot90 = rot;
  return t;
}

double band_mean(const Raster& r, int64_t c) {
  double sum = 0;
  for (size_t p = static_cast<size_t>(c); p < r.pixels.size(); p += static_cast<size_t>(r.channels())) sum += r.pixels[p];
  return sum / static_cast<double>(r.height * r.width);
}

}  // namespace

TEST_SUITE("data") {
  TEST_CASE("flips and rotations are exact on an integer pattern (numpy.rot90's sense)") {
    // [[0, 1, 2], [3, 4, 5]]
    const Raster r = make_raster({"B04"}, 2, 3, [](int64_t y, int64_t x, int64_t) { return static_cast<float>(3 * y + x); }, "p.tif");
    using M = std::vector<std::vector<float>>;
    CHECK(pixels_2d(apply_geometric(flips_rot(2, 3, false, false, 0), r)) == M{{0, 1, 2}, {3, 4, 5}});
    CHECK(pixels_2d(apply_geometric(flips_rot(2, 3, true, false, 0), r)) == M{{2, 1, 0}, {5, 4, 3}});
    CHECK(pixels_2d(apply_geometric(flips_rot(2, 3, false, true, 0), r)) == M{{3, 4, 5}, {0, 1, 2}});
    CHECK(pixels_2d(apply_geometric(flips_rot(2, 3, false, false, 1), r)) == M{{2, 5}, {1, 4}, {0, 3}});
    CHECK(pixels_2d(apply_geometric(flips_rot(2, 3, false, false, 2), r)) == M{{5, 4, 3}, {2, 1, 0}});
    CHECK(pixels_2d(apply_geometric(flips_rot(2, 3, false, false, 3), r)) == M{{3, 0}, {4, 1}, {5, 2}});
    // Flip first, then rotate: rot90(fliplr(a)).
    CHECK(pixels_2d(apply_geometric(flips_rot(2, 3, true, false, 1), r)) == M{{0, 3}, {1, 4}, {2, 5}});
    const Raster label = apply_geometric(flips_rot(2, 3, true, true, 3), r, Resampling::nearest);
    CHECK(pixels_2d(label) == M{{2, 5}, {1, 4}, {0, 3}});  // rot90(a, -1) of a turned by 180 degrees
  }

  TEST_CASE("a plain random crop copies the window exactly") {
    const Raster r = make_raster({"B02", "B03"}, 9, 11, place, "p.tif");
    GeometricSpec spec;
    spec.crop = CropMode::random;
    spec.crop_height = 4;
    spec.crop_width = 5;
    spec.p_flip_h = spec.p_flip_v = 0;
    spec.rotate90 = false;
    for (uint64_t i = 0; i < 20; ++i) {
      ViewRandom rng(7, i, 0);
      const GeometricTransform t = draw_geometric(spec, 9, 11, rng);
      const Raster out = apply_geometric(t, r);
      REQUIRE(out.height == 4);
      REQUIRE(out.width == 5);
      for (int64_t y = 0; y < 4; ++y)
        for (int64_t x = 0; x < 5; ++x)
          for (int64_t c = 0; c < 2; ++c) CHECK(out.at(y, x, c) == place(y + t.crop_y, x + t.crop_x, c));
    }
  }

  TEST_CASE("bilinear resize uses pixel centres (align_corners = false) and clamps at the border") {
    const Raster r = make_raster({"B04"}, 1, 2, [](int64_t, int64_t x, int64_t) { return static_cast<float>(x); }, "p.tif");
    GeometricTransform t = GeometricTransform::identity(1, 2);
    t.out_width = 4;
    const Raster up = apply_geometric(t, r);
    CHECK(pixels_2d(up) == std::vector<std::vector<float>>{{0.0f, 0.25f, 0.75f, 1.0f}});
    const Raster nearest = apply_geometric(t, r, Resampling::nearest);
    CHECK(pixels_2d(nearest) == std::vector<std::vector<float>>{{0.0f, 0.0f, 1.0f, 1.0f}});
  }

  TEST_CASE("a random resized crop of a constant image stays constant, and invalid values never blend in") {
    Raster r = make_raster({"B05", "VV"}, 37, 29, [](int64_t, int64_t, int64_t c) { return c ? -3.25f : 0.7f; }, "c.tif");
    // An invalid pixel holding garbage: its taps are left out, it stays invalid where it is nearest.
    r.pixels[static_cast<size_t>((10 * 29 + 10) * 2)] = 1e6f;
    r.valid[static_cast<size_t>((10 * 29 + 10) * 2)] = 0;
    r.invalid_count = 1;
    GeometricSpec spec;
    spec.scale_min = 0.1;
    spec.out_height = 24;
    spec.out_width = 24;
    for (uint64_t i = 0; i < 30; ++i) {
      ViewRandom rng(3, i, 1);
      const Raster out = apply_geometric(draw_geometric(spec, 37, 29, rng), r);
      REQUIRE(out.height == 24);
      for (size_t p = 0; p < out.pixels.size(); ++p) {
        if (!out.valid[p]) {
          CHECK(out.pixels[p] == 0.0f);
          continue;
        }
        CHECK(out.pixels[p] == (p % 2 ? -3.25f : 0.7f));
      }
    }
  }

  TEST_CASE("S1 and S2 stay aligned under one drawn transform, the label map resampled nearest") {
    Sample s = paired_sample(40, 40, place);
    s.labels.map = make_raster({"label"}, 40, 40, place, "label.tif");
    GeometricSpec spec;  // random resized crop, flips, rotations
    spec.out_height = spec.out_width = 24;
    std::set<float> inputs;
    for (const float v : s.labels.map->pixels) inputs.insert(v);
    for (uint64_t i = 0; i < 25; ++i) {
      ViewRandom rng(11, i, 5);
      const GeometricTransform t = draw_geometric(spec, 40, 40, rng);
      const AlignedRasters out = apply_aligned(t, s);
      REQUIRE(out.s1->height == out.s2->height);
      REQUIRE(out.label_map->width == out.s2->width);
      for (int64_t y = 0; y < out.s2->height; ++y)
        for (int64_t x = 0; x < out.s2->width; ++x) {
          const float v = out.s2->at(y, x, 3);
          CHECK(out.s1->at(y, x, 0) == v);
          CHECK(out.s1->at(y, x, 1) == v);
          CHECK(out.s2->at(y, x, 12) == v);
          // Nearest: the label is an input value, within a source pixel of the bilinear place.
          const float label = out.label_map->at(y, x, 0);
          CHECK(inputs.count(label) == 1);
          // (v / 1000 = source row + source column / 1000, the column below 0.04.)
          CHECK(std::abs(std::round(label / 1000) - v / 1000) <= 0.55);
        }
    }
  }

  TEST_CASE("dual-encoder views: S1 then S2, the same geometry on both") {
    const Sample s = paired_sample(32, 32, place);
    for (uint64_t i = 0; i < 10; ++i) {
      const std::vector<Raster> views = make_views(s, ViewSpec::dual_encoder(), 99, i);
      REQUIRE(views.size() == 2);
      CHECK(views[0].bands == std::vector<std::string>{"VV", "VH"});
      CHECK(views[1].bands == kS2Bands);
      REQUIRE(views[0].height == views[1].height);
      for (int64_t y = 0; y < views[0].height; ++y)
        for (int64_t x = 0; x < views[0].width; ++x) CHECK(views[0].at(y, x, 1) == views[1].at(y, x, 7));
    }
  }

  TEST_CASE("the geotransform follows crops, flips and rotations") {
    Raster r = make_raster({"B04"}, 12, 10, place, "geo.tif");
    r.geo.has_geotransform = true;
    r.geo.geotransform = {500000.0, 10.0, 0.0, 4200000.0, 0.0, -10.0};
    GeometricSpec spec;
    spec.crop = CropMode::random;
    spec.crop_height = spec.crop_width = 6;
    for (uint64_t i = 0; i < 16; ++i) {
      ViewRandom rng(5, i, 2);
      const Raster out = apply_geometric(draw_geometric(spec, 12, 10, rng), r);
      const auto& g = out.geo.geotransform;
      for (int64_t y = 0; y < out.height; ++y)
        for (int64_t x = 0; x < out.width; ++x) {
          // The centre of a result pixel lies on the centre of the input pixel it shows.
          const double sx = static_cast<double>(std::fmod(out.at(y, x, 0), 1000.0f)) + 0.5;
          const double sy = std::floor(out.at(y, x, 0) / 1000.0) + 0.5;
          const double ux = static_cast<double>(x) + 0.5, uy = static_cast<double>(y) + 0.5;
          CHECK(g[0] + ux * g[1] + uy * g[2] == doctest::Approx(500000.0 + sx * 10.0));
          CHECK(g[3] + ux * g[4] + uy * g[5] == doctest::Approx(4200000.0 - sy * 10.0));
        }
    }
  }

  TEST_CASE("views are a pure function of (sample, spec, seed, index)") {
    const Sample s = paired_sample(24, 24, noise);
    for (const ViewSpec& spec : {ViewSpec::byol_single(), ViewSpec::byol_three(), ViewSpec::byol_three(false),
                                 ViewSpec::simclr_ms(), ViewSpec::dual_encoder()}) {
      CAPTURE(view_method_name(spec.method));
      const std::vector<Raster> a = make_views(s, spec, 2024, 17), b = make_views(s, spec, 2024, 17);
      REQUIRE(a.size() == 2);
      for (size_t v = 0; v < 2; ++v) {
        CHECK(a[v].bands == b[v].bands);
        CHECK(a[v].pixels == b[v].pixels);
        CHECK(a[v].valid == b[v].valid);
      }
      bool differs = false, seed_differs = false;
      for (uint64_t other = 18; other < 22 && !differs; ++other) {
        const std::vector<Raster> c = make_views(s, spec, 2024, other);
        differs = c[0].pixels != a[0].pixels || c[1].pixels != a[1].pixels;
      }
      const std::vector<Raster> d = make_views(s, spec, 2025, 17);
      seed_differs = d[0].pixels != a[0].pixels || d[1].pixels != a[1].pixels;
      CHECK(differs);
      CHECK(seed_differs);
    }
  }

  TEST_CASE("byol views hold the bands they name, drawn from the pool") {
    const Sample s = band_coded_sample(16);
    std::map<std::string, float> code;
    for (size_t c = 0; c < kS2Bands.size(); ++c) code[kS2Bands[c]] = static_cast<float>(100 + c);
    code["VV"] = 200;
    code["VH"] = 201;
    for (uint64_t i = 0; i < 40; ++i) {
      for (const ViewSpec& spec : {ViewSpec::byol_single(), ViewSpec::byol_three(), ViewSpec::byol_single(false)}) {
        const std::vector<Raster> views = make_views(s, spec, 1, i);
        for (const Raster& v : views) {
          REQUIRE(v.channels() == (spec.method == ViewMethod::byol_single ? 1 : 3));
          REQUIRE(v.height == 16);
          for (int64_t c = 0; c < v.channels(); ++c) {
            const std::string& band = v.bands[static_cast<size_t>(c)];
            const auto& pool = rs_byol_pool(spec.bands.include_sar);
            CHECK(std::find(pool.begin(), pool.end(), band) != pool.end());
            CHECK(v.at(5, 9, c) == code.at(band));
          }
        }
      }
    }
  }

  TEST_CASE("band sampling: pool, ms-only, distinct triples, uniform frequencies") {
    CHECK(rs_byol_pool(true).size() == 12);
    CHECK(rs_byol_pool(false).size() == 10);
    const int draws = 24000;
    for (bool sar : {true, false}) {
      for (BandMode mode : {BandMode::single, BandMode::three}) {
        const BandSampling sampling{mode, sar};
        const std::vector<std::string>& pool = rs_byol_pool(sar);
        std::map<std::string, int> count;
        for (int i = 0; i < draws; ++i) {
          ViewRandom rng(77, static_cast<uint64_t>(i), 0);
          const std::vector<std::string> bands = draw_bands(sampling, rng);
          REQUIRE(bands.size() == (mode == BandMode::single ? 1u : 3u));
          CHECK(std::set<std::string>(bands.begin(), bands.end()).size() == bands.size());
          for (const std::string& b : bands) ++count[b];
        }
        CHECK(count.size() == pool.size());
        if (!sar) {
          CHECK(count.count("VV") == 0);
          CHECK(count.count("VH") == 0);
        }
        const double expected = static_cast<double>(draws) * static_cast<double>(mode == BandMode::single ? 1 : 3) /
                                static_cast<double>(pool.size());
        for (const auto& [band, n] : count) {
          CAPTURE(band);
          CHECK(std::abs(n - expected) < 0.06 * expected);
        }
      }
    }
  }

  TEST_CASE("gaussian blur keeps a constant image and each band's mean") {
    Raster flat = make_raster({"B02", "B03"}, 9, 14, [](int64_t, int64_t, int64_t c) { return c ? 2.5f : -1.0f; }, "f.tif");
    gaussian_blur(flat, 1.3);
    for (size_t p = 0; p < flat.pixels.size(); ++p) CHECK(flat.pixels[p] == doctest::Approx(p % 2 ? 2.5 : -1.0).epsilon(1e-6));
    for (double sigma : {0.4, 1.0, 2.0, 6.0}) {  // 6.0: the kernel is wider than the image
      CAPTURE(sigma);
      Raster r = make_raster({"B02", "B03", "VV"}, 8, 13, noise, "n.tif");
      const Raster before = r;
      gaussian_blur(r, sigma);
      for (int64_t c = 0; c < 3; ++c) CHECK(band_mean(r, c) == doctest::Approx(band_mean(before, c)).epsilon(1e-5).scale(1.0));
      CHECK(r.pixels != before.pixels);
    }
  }

  TEST_CASE("band dropout zeroes bands at the requested rate") {
    const Raster r = make_raster(kS2Bands, 4, 4, [](int64_t, int64_t, int64_t) { return 1.0f; }, "d.tif");
    const double p = 0.3;
    int64_t dropped = 0, zeroed = 0;
    const int trials = 3000;
    for (int i = 0; i < trials; ++i) {
      Raster v = r;
      ViewRandom rng(13, static_cast<uint64_t>(i), 2);
      dropped += band_dropout(v, p, rng);
      for (int64_t c = 0; c < v.channels(); ++c) zeroed += v.at(2, 3, c) == 0.0f;
      CHECK(v.valid == r.valid);
    }
    CHECK(zeroed == dropped);
    const double rate = static_cast<double>(dropped) / (trials * 13.0);
    CHECK(std::abs(rate - p) < 0.015);
    // Every band drawn: one is kept.
    Raster all = r;
    ViewRandom rng(1, 1, 1);
    CHECK(band_dropout(all, 1.0, rng) == 12);
  }

  TEST_CASE("brightness and contrast jitter moves valid pixels per band and leaves invalid ones at 0") {
    Raster r = make_raster({"B02", "B11"}, 6, 6, noise, "j.tif");
    r.pixels[0] = 0.0f;
    r.valid[0] = 0;
    r.invalid_count = 1;
    PhotometricSpec spec;
    ViewRandom rng(3, 4, 5);
    const Raster before = r;
    jitter_brightness_contrast(r, spec, rng);
    CHECK(r.pixels[0] == 0.0f);
    CHECK(r.pixels[1] != before.pixels[1]);
    CHECK(r.pixels[2] != before.pixels[2]);
  }

  TEST_CASE("simclr_ms views hold every S2 band at the input size") {
    const Sample s = paired_sample(20, 20, noise);
    const std::vector<Raster> views = make_views(s, ViewSpec::simclr_ms(), 8, 3);
    for (const Raster& v : views) {
      CHECK(v.bands == kS2Bands);
      CHECK(v.height == 20);
      CHECK(v.width == 20);
      for (float x : v.pixels) CHECK(std::isfinite(x));
    }
  }

  TEST_CASE("a random crop larger than the image is refused with both sizes") {
    GeometricSpec spec;
    spec.crop = CropMode::random;
    spec.crop_height = 128;
    spec.crop_width = 128;
    ViewRandom rng(1, 2, 3);
    CHECK_THROWS_WITH_AS(draw_geometric(spec, 64, 64, rng), doctest::Contains("random crop 128x128 is larger than the 64x64 image"), Error);
    ViewSpec view = ViewSpec::simclr_ms();
    view.geometric = spec;
    const Sample s = paired_sample(64, 64, place);
    CHECK_THROWS_WITH_AS(make_views(s, view, 1, 0), doctest::Contains("sample test/pair_0"), Error);
  }

  TEST_CASE("S1 and S2 of different sizes under an aligned transform are refused by name") {
    Sample s = paired_sample(32, 32, place);
    s.s1 = make_raster({"VV", "VH"}, 16, 16, place, "s1_small.tif");
    const GeometricTransform t = GeometricTransform::identity(32, 32);
    CHECK_THROWS_WITH_AS(apply_aligned(t, s), doctest::Contains("s1_small.tif"), Error);
    CHECK_THROWS_WITH_AS(apply_aligned(t, s), doctest::Contains("not on one grid"), Error);
    CHECK_THROWS_WITH_AS(make_views(s, ViewSpec::dual_encoder(), 1, 0), doctest::Contains("S1 16x16"), Error);
    CHECK_THROWS_WITH_AS(make_views(s, ViewSpec::byol_three(), 1, 0), doctest::Contains("not on one grid"), Error);
    CHECK_THROWS_WITH_AS(apply_geometric(t, *s.s1), doctest::Contains("transform drawn for 32x32 applied to raster 16x16"), Error);
  }

  TEST_CASE("ms+sar band sampling on a sample without S1 names the missing band") {
    Sample s = paired_sample(8, 8, place);
    s.s1.reset();
    CHECK_THROWS_WITH_AS(select_bands(s, {"B02", "VV"}), doctest::Contains("has no band VV"), Error);
    CHECK_THROWS_WITH_AS(make_views(s, ViewSpec::dual_encoder(), 1, 0), doctest::Contains("has no S1 raster"), Error);
    CHECK_THROWS_WITH_AS(make_views(s, ViewSpec::byol_single(), 1, 0), doctest::Contains("has no S1 raster"), Error);
    // ms-only never needs S1.
    for (uint64_t i = 0; i < 10; ++i) CHECK(make_views(s, ViewSpec::byol_three(false), 1, i).size() == 2);
  }
}
