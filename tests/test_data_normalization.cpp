#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <random>

#include "data/normalization.h"
#include "engine/error.h"
#include "tests/support/raster_test_util.h"

using namespace rsd;
using namespace rsd::data;

namespace {

using rsd::test::make_raster;

void set_invalid(Raster& r, int64_t y, int64_t x, int64_t c) {
  r.valid[static_cast<size_t>((y * r.width + x) * r.channels() + c)] = 0;
  ++r.invalid_count;
}

BandStats stats_of(BandKind kind, double mean, double std, ClipRange clip) {
  BandStats s;
  s.kind = kind;
  s.mean = mean;
  s.std = std;
  s.count = 100;
  s.min = clip.lo;
  s.max = clip.hi;
  s.clip = clip;
  return s;
}

// Values of a mixed S2/S1 raster with invalid pixels, for the accumulator tests.
Raster random_raster(uint32_t seed, int64_t height, int64_t width) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dn(-500.0f, 18000.0f), db(-60.0f, 8.0f);
  Raster r = make_raster({"B04", "B08", "VV"}, height, width,
                         [&](int64_t, int64_t, int64_t c) { return c < 2 ? dn(gen) : db(gen); });
  for (int64_t y = 0; y < height; y += 3) set_invalid(r, y, (y * 7) % width, y % 3);
  return r;
}

// Two-pass reference in double of the statistics of one band (converted with default scaling).
BandStats two_pass(const std::vector<Raster>& rasters, int64_t channel) {
  const std::string band = rasters.front().bands[static_cast<size_t>(channel)];
  const BandKind kind = band_kind(band);
  const ClipRange clip = default_clip_range(band);
  std::vector<double> raw;
  for (const Raster& r : rasters)
    for (size_t p = static_cast<size_t>(channel); p < r.pixels.size(); p += static_cast<size_t>(r.channels()))
      if (r.valid[p]) raw.push_back(convert_value(r.pixels[p], kind, SourceScaling{}));
  BandStats s;
  s.kind = kind;
  s.count = static_cast<int64_t>(raw.size());
  s.min = *std::min_element(raw.begin(), raw.end());
  s.max = *std::max_element(raw.begin(), raw.end());
  s.clip = clip;
  double sum = 0;
  for (double v : raw) sum += std::clamp(v, clip.lo, clip.hi);
  s.mean = sum / static_cast<double>(raw.size());
  double ss = 0;
  for (double v : raw) ss += (std::clamp(v, clip.lo, clip.hi) - s.mean) * (std::clamp(v, clip.lo, clip.hi) - s.mean);
  s.std = std::sqrt(ss / static_cast<double>(raw.size()));
  return s;
}

void check_close(const BandStats& a, const BandStats& b) {
  CHECK(a.kind == b.kind);
  CHECK(a.count == b.count);
  CHECK(a.mean == doctest::Approx(b.mean).epsilon(1e-12));
  CHECK(a.std == doctest::Approx(b.std).epsilon(1e-12));
  CHECK(a.min == b.min);
  CHECK(a.max == b.max);
  CHECK(a.clip == b.clip);
}

}  // namespace

TEST_SUITE("data") {
  TEST_CASE("band kinds and the documented clip ranges") {
    CHECK(band_kind("B8A") == BandKind::s2_reflectance);
    CHECK(band_kind("B12") == BandKind::s2_reflectance);
    CHECK(band_kind("VH") == BandKind::s1_db);
    CHECK(band_kind("LULC") == BandKind::other);
    CHECK(default_clip_range("VV") == ClipRange{-50.0, 1.0});
    CHECK(default_clip_range("VH") == ClipRange{-50.0, 1.0});
    CHECK(default_clip_range("B02") == ClipRange{0.0, 1.5});
  }

  TEST_CASE("conversion: S2 DN with and without the baseline 04.00 offset, S1 linear power to dB") {
    SourceScaling plain;
    CHECK(convert_value(1500, BandKind::s2_reflectance, plain) == doctest::Approx(0.15));
    SourceScaling pb0400;
    pb0400.s2_offset = -1000;
    CHECK(convert_value(1500, BandKind::s2_reflectance, pb0400) == doctest::Approx(0.05));
    CHECK(convert_value(-12.5, BandKind::s1_db, plain) == -12.5);  // already dB: unchanged
    SourceScaling linear;
    linear.s1_linear = true;
    CHECK(convert_value(0.01, BandKind::s1_db, linear) == doctest::Approx(-20.0));
    CHECK(convert_value(1.0, BandKind::s1_db, linear) == doctest::Approx(0.0));
    CHECK(convert_value(0.0, BandKind::s1_db, linear) == doctest::Approx(-100.0));   // the floor, no -inf
    CHECK(convert_value(-0.003, BandKind::s1_db, linear) == doctest::Approx(-100.0));
    CHECK(convert_value(7.0, BandKind::other, linear) == 7.0);
  }

  TEST_CASE("normalize by hand: S2 offset, clipping, standardization, invalid pixels") {
    // B04: DN 1500, 2500, 21000 (2.0 -> clipped to 1.5), 400 (-0.06 with the offset -> clipped to 0).
    const float dn[4] = {1500, 2500, 21000, 400};
    Raster r = make_raster({"B04"}, 2, 3, [&](int64_t y, int64_t x, int64_t) { return y * 3 + x < 4 ? dn[y * 3 + x] : 9999.0f; });
    set_invalid(r, 1, 1, 0);
    r.pixels[5] = std::nanf("");  // valid-marked NaN: found, marked invalid, counted
    BandStatistics stats;
    stats.bands["B04"] = stats_of(BandKind::s2_reflectance, 0.1, 0.05, {0.0, 1.5});
    SourceScaling scaling;
    scaling.s2_offset = -1000;
    const NormalizeReport report = normalize(r, stats, scaling);
    CHECK(r.pixels[0] == doctest::Approx((0.05 - 0.1) / 0.05));
    CHECK(r.pixels[1] == doctest::Approx((0.15 - 0.1) / 0.05));
    CHECK(r.pixels[2] == doctest::Approx((1.5 - 0.1) / 0.05));
    CHECK(r.pixels[3] == doctest::Approx((0.0 - 0.1) / 0.05));
    CHECK(r.pixels[4] == 0.0f);
    CHECK(r.pixels[5] == 0.0f);
    CHECK(r.valid[4] == 0);
    CHECK(r.valid[5] == 0);
    CHECK(report.invalid == 2);
    CHECK(r.invalid_count == 2);
    CHECK(report.clipped_high == 1);
    CHECK(report.clipped_low == 1);
  }

  TEST_CASE("normalize by hand: S1 linear power to dB, clipped to [-50, 1], per band by name") {
    // Bands in the raster's order VH, VV; statistics are matched by name, not position.
    Raster r = make_raster({"VH", "VV"}, 1, 3, [](int64_t, int64_t x, int64_t c) {
      const float vv[3] = {0.1f, 1e-12f, 10.0f}, vh[3] = {0.01f, 0.0f, 1.0f};
      return c == 1 ? vv[x] : vh[x];
    });
    BandStatistics stats;
    stats.bands["VV"] = stats_of(BandKind::s1_db, -15.0, 5.0, {-50.0, 1.0});
    stats.bands["VH"] = stats_of(BandKind::s1_db, -22.0, 4.0, {-50.0, 1.0});
    SourceScaling scaling;
    scaling.s1_linear = true;
    const NormalizeReport report = normalize(r, stats, scaling);
    auto at = [&](int64_t x, int64_t c) { return r.at(0, x, c); };
    CHECK(at(0, 1) == doctest::Approx((-10.0 + 15.0) / 5.0));
    CHECK(at(1, 1) == doctest::Approx((-50.0 + 15.0) / 5.0));   // below the floor: -100 dB, clipped to -50
    CHECK(at(2, 1) == doctest::Approx((1.0 + 15.0) / 5.0));     // +10 dB clipped to +1
    CHECK(at(0, 0) == doctest::Approx((-20.0 + 22.0) / 4.0));
    CHECK(at(1, 0) == doctest::Approx((-50.0 + 22.0) / 4.0));   // log of zero: floor, then clip
    CHECK(at(2, 0) == doctest::Approx((0.0 + 22.0) / 4.0));
    CHECK(report.clipped_low == 2);
    CHECK(report.clipped_high == 1);
    CHECK(report.invalid == 0);
  }

  TEST_CASE("a band constant over the dataset is centred, not divided by zero") {
    Raster r = make_raster({"B02"}, 2, 2, [](int64_t, int64_t, int64_t) { return 1234.0f; });
    StatisticsAccumulator acc;
    acc.add(r);
    const BandStatistics stats = acc.finish();
    CHECK(stats.bands.at("B02").std == 0.0);
    normalize(r, stats);
    for (float v : r.pixels) CHECK(v == 0.0f);
  }

  TEST_CASE("statistics accumulator matches a two-pass double reference over valid pixels") {
    const std::vector<Raster> rasters = {random_raster(1, 17, 13), random_raster(2, 9, 31)};
    StatisticsAccumulator acc;
    int64_t added = 0;
    for (const Raster& r : rasters) added += acc.add(r);
    const BandStatistics stats = acc.finish();
    int64_t expected = 0;
    for (const Raster& r : rasters) expected += static_cast<int64_t>(r.pixels.size()) - r.invalid_count;
    CHECK(added == expected);
    REQUIRE(stats.bands.size() == 3);
    for (int64_t c = 0; c < 3; ++c) check_close(stats.bands.at(rasters[0].bands[static_cast<size_t>(c)]), two_pass(rasters, c));
    // The dB band's raw range exceeds the clip range: min/max report it, mean/std use clipped values.
    CHECK(stats.bands.at("VV").min < -50.0);
    CHECK(stats.bands.at("VV").max > 1.0);
  }

  TEST_CASE("merging two accumulators equals one accumulator over the union") {
    const Raster a = random_raster(3, 20, 20), b = random_raster(4, 7, 45);
    StatisticsAccumulator left, right, whole;
    left.add(a);
    right.add(b);
    whole.add(a);
    whole.add(b);
    left.merge(right);
    const BandStatistics merged = left.finish(), one = whole.finish();
    REQUIRE(merged.bands.size() == one.bands.size());
    for (const auto& [band, s] : one.bands) check_close(merged.bands.at(band), s);
    // Merging into an empty accumulator, and a band seen only on one side.
    StatisticsAccumulator empty, only_ndvi;
    only_ndvi.add_value("NDVI", 0.25);
    only_ndvi.add_value("NDVI", 0.75);
    empty.merge(whole);
    empty.merge(only_ndvi);
    const BandStatistics union_stats = empty.finish();
    CHECK(union_stats.bands.size() == 4);
    CHECK(union_stats.bands.at("NDVI").mean == doctest::Approx(0.5));
    CHECK(union_stats.bands.at("NDVI").std == doctest::Approx(0.25));
    check_close(union_stats.bands.at("VV"), one.bands.at("VV"));
  }

  TEST_CASE("normalizing with statistics of the same data gives mean 0 and std 1 per band") {
    Raster r = random_raster(5, 32, 32);
    StatisticsAccumulator acc;
    acc.add(r);
    const BandStatistics stats = acc.finish();
    const int64_t invalid_before = r.invalid_count;
    const NormalizeReport report = normalize(r, stats);
    CHECK(report.invalid == invalid_before);
    for (int64_t c = 0; c < 3; ++c) {
      double sum = 0, ss = 0;
      int64_t n = 0;
      for (size_t p = static_cast<size_t>(c); p < r.pixels.size(); p += 3)
        if (r.valid[p]) {
          sum += r.pixels[p];
          ss += static_cast<double>(r.pixels[p]) * r.pixels[p];
          ++n;
        }
      CHECK(sum / static_cast<double>(n) == doctest::Approx(0.0).epsilon(1e-5).scale(1.0));
      CHECK(ss / static_cast<double>(n) == doctest::Approx(1.0).epsilon(1e-5));
    }
  }

  TEST_CASE("band statistics JSON round trip is exact") {
    StatisticsAccumulator acc;
    acc.add(random_raster(6, 11, 23));
    acc.add_value("LULC", 3.0);
    const BandStatistics stats = acc.finish();
    const std::string text = stats.to_json();
    CHECK(text.find("\"reflectance\"") != std::string::npos);
    CHECK(text.find("\"dB\"") != std::string::npos);
    const BandStatistics back = BandStatistics::from_json(text);
    CHECK(back == stats);
    CHECK(back.to_json() == text);
    BandStatistics changed = back;
    changed.bands["B04"].mean = std::nextafter(changed.bands["B04"].mean, 1e9);
    CHECK(changed != stats);
  }

  TEST_CASE("normalize with a band missing from the statistics names the band") {
    Raster r = make_raster({"B02", "VH"}, 2, 2, [](int64_t, int64_t, int64_t) { return 1.0f; });
    BandStatistics stats;
    stats.bands["B02"] = stats_of(BandKind::s2_reflectance, 0.1, 0.05, {0.0, 1.5});
    stats.bands["VV"] = stats_of(BandKind::s1_db, -15, 5, {-50.0, 1.0});
    CHECK_THROWS_WITH_AS(normalize(r, stats), doctest::Contains("band VH has no statistics"), Error);
    CHECK_THROWS_WITH_AS(normalize(r, stats), doctest::Contains("memory.tif"), Error);
  }

  TEST_CASE("a raster whose mask or pixels do not match its size is refused by name") {
    Raster r = make_raster({"B02"}, 2, 2, [](int64_t, int64_t, int64_t) { return 1.0f; });
    r.valid.pop_back();
    StatisticsAccumulator acc;
    CHECK_THROWS_WITH_AS(acc.add(r), doctest::Contains("validity mask of 3 values, expected 4"), Error);
    Raster twice = make_raster({"B02", "B02"}, 1, 1, [](int64_t, int64_t, int64_t) { return 1.0f; });
    CHECK_THROWS_WITH_AS(acc.add(twice), doctest::Contains("band B02 appears twice"), Error);
  }

  TEST_CASE("statistics of a band without any valid pixel are refused") {
    Raster r = make_raster({"B03"}, 1, 2, [](int64_t, int64_t, int64_t) { return 1.0f; });
    set_invalid(r, 0, 0, 0);
    set_invalid(r, 0, 1, 0);
    StatisticsAccumulator acc;
    acc.add(r);
    CHECK_THROWS_WITH_AS(acc.finish(), doctest::Contains("band B03 has no valid pixel"), Error);
  }

  TEST_CASE("malformed band statistics JSON names the origin and the problem") {
    CHECK_THROWS_WITH_AS(BandStatistics::from_json("{", "stats.json"), doctest::Contains("stats.json"), Error);
    CHECK_THROWS_WITH_AS(BandStatistics::from_json("{\"bands\": {}}"), doctest::Contains("not band statistics"), Error);
    const std::string no_std =
        R"({"format": "rsd.band_statistics", "version": 1, "bands": {"VV": {"unit": "dB", "mean": 1, "count": 3,
            "min": 0, "max": 2, "clip": [-50, 1]}}})";
    CHECK_THROWS_WITH_AS(BandStatistics::from_json(no_std), doctest::Contains("band VV"), Error);
  }
}
