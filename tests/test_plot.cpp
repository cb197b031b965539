// PNG plots without Python: the PNG writer (zlib and stored deflate) read back by GDAL and, when
// installed, Pillow; the canvas (lines, dashes, text); nice axis ticks; line plots with gaps,
// single points, constant and empty series, and a log axis.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "engine/error.h"
#include "models/plot/bitmap_font.h"
#include "models/plot/canvas.h"
#include "models/plot/line_plot.h"
#include "models/plot/png_writer.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_paths.h"

#if RSD_HAVE_GDAL
#include <gdal.h>
#endif

namespace fs = std::filesystem;
using namespace rsd::plot;
using rsd::test::kNoGdal;

namespace {

constexpr uint32_t kWhite = 0xFFFFFF;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

struct TempFolder {
  fs::path path;
  TempFolder() {
    static int counter = 0;
    path = fs::temp_directory_path() / ("rsd-plot-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempFolder() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;
};

// Pixels of a colour in a rectangle of the canvas.
int count_colour(const Canvas& c, uint32_t rgb, int x0 = 0, int y0 = 0, int x1 = -1, int y1 = -1) {
  if (x1 < 0) x1 = c.width() - 1;
  if (y1 < 0) y1 = c.height() - 1;
  int n = 0;
  for (int y = std::max(y0, 0); y <= std::min(y1, c.height() - 1); ++y) {
    for (int x = std::max(x0, 0); x <= std::min(x1, c.width() - 1); ++x) n += c.pixel(x, y) == rgb;
  }
  return n;
}

PlotSeries loss_curve(int n, uint32_t rgb) {
  PlotSeries s{"loss", {}, {}, rgb};
  for (int i = 0; i < n; ++i) {
    s.x.push_back(i);
    s.y.push_back(2.0 * std::exp(-i / 40.0) + 0.1);
  }
  return s;
}

#if RSD_HAVE_GDAL
struct DecodedImage {
  int width = 0, height = 0, bands = 0;
  std::vector<uint8_t> rgb;  // (height, width, 3)
  uint32_t pixel(int x, int y) const {
    const size_t i = (static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(x)) * 3;
    return (uint32_t{rgb[i]} << 16) | (uint32_t{rgb[i + 1]} << 8) | rgb[i + 2];
  }
};

DecodedImage read_with_gdal(const std::string& path) {
  GDALAllRegister();
  DecodedImage image;
  GDALDatasetH ds = GDALOpen(path.c_str(), GA_ReadOnly);
  REQUIRE_MESSAGE(ds != nullptr, "GDAL cannot open ", path);
  image.width = GDALGetRasterXSize(ds);
  image.height = GDALGetRasterYSize(ds);
  image.bands = GDALGetRasterCount(ds);
  if (image.bands == 3) {
    image.rgb.resize(static_cast<size_t>(image.width) * static_cast<size_t>(image.height) * 3);
    int band_map[3] = {1, 2, 3};
    // Pixel-interleaved: pixel spacing 3 bytes, line spacing 3 x width.
    const CPLErr err = GDALDatasetRasterIO(ds, GF_Read, 0, 0, image.width, image.height, image.rgb.data(),
                                           image.width, image.height, GDT_Byte, 3, band_map, 3, 3 * image.width, 1);
    CHECK(err == CE_None);
  }
  GDALClose(ds);
  return image;
}
#endif

}  // namespace

TEST_SUITE("plot") {

TEST_CASE("bitmap font: the characters plots need all have glyphs") {
  const std::string needed = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-+e%/():_ ";
  for (const char c : needed) {
    CAPTURE(c);
    CHECK(has_glyph(c));
  }
  CHECK_FALSE(has_glyph('\x01'));
  CHECK_FALSE(has_glyph(static_cast<char>(0xC3)));
  // Distinct characters look different.
  CHECK(glyph_of('0') != glyph_of('O'));
  CHECK(glyph_of('1') != glyph_of('l'));
  CHECK(glyph_of('5') != glyph_of('S'));
}

TEST_CASE("canvas: rectangles, crisp and anti-aliased lines, dashes, text, clipping") {
  Canvas c(60, 40, kWhite);
  CHECK(c.rgb().size() == 60u * 40u * 3u);
  CHECK(c.pixel(0, 0) == kWhite);

  c.fill_rect(-5, -5, 10, 10, 0xFF0000);  // partly off the image
  CHECK(c.pixel(0, 0) == 0xFF0000);
  CHECK(c.pixel(4, 4) == 0xFF0000);
  CHECK(c.pixel(5, 5) == kWhite);

  // A one-pixel line through pixel centres covers exactly its row.
  c.line(10, 20, 49, 20, 0x0000FF, 1.0, false);
  CHECK(count_colour(c, 0x0000FF) == 40);
  CHECK(count_colour(c, 0x0000FF, 10, 20, 49, 20) == 40);
  // Anti-aliased: the core pixels get the colour, neighbours a mix.
  Canvas aa(60, 40, kWhite);
  aa.line(5, 10.25, 50, 10.25, 0x000000, 2.0, true);  // covers y in [9.25, 11.25]
  CHECK(aa.pixel(20, 10) == 0x000000);
  CHECK(aa.pixel(20, 11) == 0x404040);  // 3/4 covered
  CHECK(aa.pixel(20, 9) == 0xBFBFBF);   // 1/4 covered
  CHECK(aa.pixel(20, 12) == kWhite);

  // Dashes: 5 on, 5 off.
  Canvas d(60, 10, kWhite);
  d.dashed_line(0, 5, 59, 5, 0x00FF00, 5, 5, 1.0);
  for (int x = 0; x < 60; ++x) {
    CAPTURE(x);
    CHECK((d.pixel(x, 5) == 0x00FF00) == (x % 10 < 5));
  }

  // Text: pixels of the colour inside its box, none outside.
  Canvas t(80, 30, kWhite);
  t.text(3, 4, "Loss 1e-3", 0x112233, 2);
  const int w = Canvas::text_width("Loss 1e-3", 2), h = Canvas::text_height(2);
  CHECK(w == (9 * 6 - 1) * 2);
  CHECK(h == 14);
  const int inside = count_colour(t, 0x112233, 3, 4, 3 + w - 1, 4 + h - 1);
  CHECK(inside > 50);
  CHECK(count_colour(t, 0x112233) == inside);
  Canvas up(30, 80, kWhite);
  up.text_up(4, 70, "step", 0x112233, 1);
  const int up_inside = count_colour(up, 0x112233, 4, 70 - Canvas::text_width("step") + 1, 4 + 6, 70);
  CHECK(up_inside > 10);
  CHECK(count_colour(up, 0x112233) == up_inside);

  // Clipping, and drawing far off the image.
  Canvas clip(20, 20, kWhite);
  clip.set_clip(PixelRect{5, 5, 10, 10});
  clip.fill_rect(0, 0, 20, 20, 0x000000);
  CHECK(count_colour(clip, 0x000000) == 100);
  clip.reset_clip();
  clip.line(-1e12, -1e12, 1e12, 1e12, 0x00FF00, 1.0);
  CHECK(clip.pixel(17, 17) == 0x00FF00);

  CHECK_THROWS_AS(Canvas(0, 10), rsd::Error);
  CHECK_THROWS_WITH_AS(c.pixel(60, 0), doctest::Contains("outside the 60 x 40 image"), rsd::Error);
  CHECK_THROWS_AS(c.line(0, 0, kNaN, 1, 0), rsd::Error);
}

TEST_CASE("nice axes: ticks at 1, 2, 5 x 10^k and their labels") {
  const AxisTicks a = nice_axis(0.0, 0.93, 6);
  CHECK(a.min == 0.0);
  CHECK(a.max == doctest::Approx(1.0));
  REQUIRE(a.ticks.size() == 6);
  CHECK(a.labels == std::vector<std::string>{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"});

  const AxisTicks b = nice_axis(3.0, 1234.0, 8);
  CHECK(b.min == 0.0);
  CHECK(b.max == 1400.0);
  CHECK(b.labels.front() == "0");
  CHECK(b.labels.back() == "1400");
  CHECK(b.ticks.size() <= 8);

  const AxisTicks negative = nice_axis(-0.37, 0.12, 6);
  CHECK(negative.min <= -0.37);
  CHECK(negative.max >= 0.12);
  CHECK(std::find(negative.labels.begin(), negative.labels.end(), "0.0") != negative.labels.end());

  // Constant ranges widen around the value.
  const AxisTicks constant = nice_axis(3.7, 3.7, 5);
  CHECK(constant.min < 3.7);
  CHECK(constant.max > 3.7);
  const AxisTicks zero = nice_axis(0, 0, 5);
  CHECK(zero.min == -1.0);
  CHECK(zero.max == 1.0);

  CHECK(tick_label(2.5e-5, 5e-6) == "2.5e-5");
  CHECK(tick_label(2.5e7, 5e6) == "2.5e7");
  CHECK(tick_label(0.0, 1e-6) == "0");
  CHECK(tick_label(-1e-17, 0.1) == "0.0");
  CHECK(tick_label(1500, 500) == "1500");
  CHECK(tick_label(0.25, 0.05) == "0.25");

  const AxisTicks log = log_axis(0.003, 2.5, 8);
  CHECK(log.min == doctest::Approx(1e-3));
  CHECK(log.max == doctest::Approx(10));
  CHECK(log.labels == std::vector<std::string>{"0.001", "0.01", "0.1", "1", "10"});
  const AxisTicks one_decade = log_axis(0.2, 0.9, 8);
  CHECK(one_decade.labels == std::vector<std::string>{"0.1", "0.2", "0.5", "1"});
  const AxisTicks wide = log_axis(1e-12, 1e9, 6);
  CHECK(wide.ticks.size() <= 6);
  CHECK(wide.labels.front() == "1e-12");
}

TEST_CASE("line plot: background, axes and the series where the data are") {
  const PlotSeries s = loss_curve(200, 0xD62728);
  PlotFrame f;
  const Canvas c = render_line_plot({s}, PlotOptions{"BYOL loss", "step", "loss"}, &f);
  CHECK(c.width() == 900);
  CHECK(c.height() == 520);
  CHECK(c.pixel(2, 2) == kWhite);
  CHECK(c.pixel(c.width() - 3, c.height() - 3) == kWhite);
  CHECK(f.area.width > 600);
  CHECK(f.area.height > 300);
  CHECK(f.x_axis.min <= 0);
  CHECK(f.x_axis.max >= 199);
  // Points of the curve (away from the legend's corner) are drawn in the series colour.
  for (int i : {0, 30, 100, 150, 199}) {
    CAPTURE(i);
    const int x = static_cast<int>(std::lround(f.px(s.x[static_cast<size_t>(i)])));
    const int y = static_cast<int>(std::lround(f.py(s.y[static_cast<size_t>(i)])));
    CHECK(c.pixel(x, y) == s.rgb);
  }
  // Far from the curve inside the plot area: background (or a grid line).
  const int below = static_cast<int>(std::lround(f.py(s.y[20]))) + 60;
  const uint32_t empty = c.pixel(static_cast<int>(std::lround(f.px(20))) + 3, below);
  CHECK((empty == kWhite || empty == 0xDDDDDD));
  // Text was drawn (title, labels): dark pixels outside the plot area.
  CHECK(count_colour(c, 0x222222, 0, 0, c.width() - 1, f.area.y - 2) > 50);
}

TEST_CASE("line plot: NaN and Inf leave gaps; lone points are dots") {
  PlotSeries s{"with gaps", {}, {}, 0x2CA02C};
  for (int i = 0; i <= 100; ++i) {
    s.x.push_back(i);
    s.y.push_back(i >= 40 && i < 60 ? (i % 2 ? kNaN : kInf) : 1.0 + 0.01 * i);
  }
  s.y[80] = kNaN;
  s.y[82] = -kInf;  // 81 is alone between two gaps
  PlotFrame f;
  const Canvas c = render_line_plot({s}, PlotOptions{}, &f);
  // Nothing in the gap's columns.
  const int gap_x0 = static_cast<int>(std::ceil(f.px(39))) + 3, gap_x1 = static_cast<int>(std::floor(f.px(60))) - 3;
  REQUIRE(gap_x1 > gap_x0);
  CHECK(count_colour(c, s.rgb, gap_x0, f.area.y, gap_x1, f.area.y + f.area.height - 1) == 0);
  // Both sides of the gap are drawn, and the lone point is a dot.
  CHECK(c.pixel(static_cast<int>(std::lround(f.px(20))), static_cast<int>(std::lround(f.py(1.2)))) == s.rgb);
  CHECK(c.pixel(static_cast<int>(std::lround(f.px(70))), static_cast<int>(std::lround(f.py(1.7)))) == s.rgb);
  CHECK(c.pixel(static_cast<int>(std::lround(f.px(81))), static_cast<int>(std::lround(f.py(1.81)))) == s.rgb);
  // The y axis covers the finite values only.
  CHECK(f.y_axis.max < 3);
}

TEST_CASE("line plot: empty, one point, constant, several series, log axis") {
  // No series, and series with nothing finite: axes and "no data", no error.
  CHECK_NOTHROW(render_line_plot({}, PlotOptions{"empty", "", ""}));
  const Canvas empty = render_line_plot({PlotSeries{"nan", {1, 2}, {kNaN, kNaN}, 0x123456}}, PlotOptions{});
  CHECK(count_colour(empty, 0x123456) > 0);  // only the legend's sample line
  CHECK(count_colour(empty, 0x222222) > 20);

  PlotFrame f;
  const PlotSeries one{"one", {5}, {0.25}, 0x9467BD};
  const Canvas single = render_line_plot({one}, PlotOptions{}, &f);
  CHECK(f.x_axis.min < 5);
  CHECK(f.x_axis.max > 5);
  CHECK(single.pixel(static_cast<int>(std::lround(f.px(5))), static_cast<int>(std::lround(f.py(0.25)))) == one.rgb);

  const PlotSeries flat{"", {0, 1, 2, 3}, {2, 2, 2, 2}, 0x8C564B};
  const Canvas constant = render_line_plot({flat}, PlotOptions{}, &f);
  CHECK(f.y_axis.min < 2);
  CHECK(f.y_axis.max > 2);
  const int y = static_cast<int>(std::lround(f.py(2)));
  CHECK(y > f.area.y + 10);
  CHECK(y < f.area.y + f.area.height - 10);
  CHECK(constant.pixel(static_cast<int>(std::lround(f.px(1.5))), y) == flat.rgb);

  const PlotSeries a = loss_curve(50, 0x1F77B4);
  PlotSeries b = loss_curve(50, 0xFF7F0E);
  b.name = "target";
  for (double& v : b.y) v *= 0.5;
  const Canvas two = render_line_plot({a, b}, PlotOptions{"two", "step", "loss", 640, 300}, &f);
  CHECK(two.width() == 640);
  CHECK(count_colour(two, a.rgb) > 100);
  CHECK(count_colour(two, b.rgb) > 100);

  PlotSeries logged{"log", {0, 1, 2, 3, 4}, {1.0, 0.1, 0.0, -1.0, 0.001}, 0x17BECF};
  const Canvas log = render_line_plot({logged}, PlotOptions{"", "", "", 900, 520, true}, &f);
  CHECK(f.log_y);
  CHECK(f.y_axis.min == doctest::Approx(1e-3));
  CHECK(f.y_axis.max == doctest::Approx(1.0));
  CHECK(log.pixel(static_cast<int>(std::lround(f.px(0.5))), static_cast<int>(std::lround(f.py(std::sqrt(0.1))))) ==
        logged.rgb);
}

TEST_CASE("line plot: bad input names the plot and the series") {
  const PlotSeries bad{"train loss", {1, 2, 3}, {1, 2}, 0};
  CHECK_THROWS_WITH_AS(render_line_plot({bad}, PlotOptions{"curve", "", ""}),
                       doctest::Contains("line plot 'curve': series 'train loss' has 3 x values and 2 y values"),
                       rsd::Error);
  CHECK_THROWS_WITH_AS(render_line_plot({}, PlotOptions{"tiny", "", "", 100, 100}),
                       doctest::Contains("at least 200 x 150 pixels, got 100 x 100"), rsd::Error);
  CHECK_THROWS_WITH_AS(write_line_plot_png("/nonexistent-folder/x.png", {}, PlotOptions{}),
                       doctest::Contains("/nonexistent-folder/x.png"), rsd::Error);
  CHECK_THROWS_WITH_AS(encode_png_rgb(2, 2, std::vector<uint8_t>(11)),
                       doctest::Contains("needs 12 bytes, got 11"), rsd::Error);
}

TEST_CASE("PNG: the layout of the bytes") {
  const std::vector<uint8_t> rgb(4 * 3 * 3, 200);
  for (const PngDeflate deflate : {PngDeflate::best, PngDeflate::stored}) {
    const std::string png = encode_png_rgb(4, 3, rgb, deflate);
    REQUIRE(png.size() > 8 + 25 + 12 + 12);
    CHECK(png.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
    CHECK(png.substr(12, 4) == "IHDR");
    CHECK(png.substr(png.size() - 12) == std::string("\0\0\0\0IEND\xae\x42\x60\x82", 12));  // IEND's fixed CRC
  }
  // Stored blocks: the data uncompressed (3 rows of 1 + 12 bytes) plus block and stream framing.
  const std::string stored = encode_png_rgb(4, 3, rgb, PngDeflate::stored);
  CHECK(stored.size() == 8 + 25 + (12 + 2 + 5 + 39 + 4) + 12);
}

TEST_CASE("PNG: GDAL reads the plot back with its size, 3 bands and the pixels" * doctest::skip(kNoGdal)) {
#if RSD_HAVE_GDAL
  TempFolder tmp;
  const PlotSeries s = loss_curve(300, 0xD62728);
  const PlotOptions options{"loss", "step", "loss"};
  PlotFrame f;
  const Canvas drawn = render_line_plot({s}, options, &f);
  const std::string path = (tmp.path / "loss.png").string();
  write_line_plot_png(path, {s}, options);
  const DecodedImage png = read_with_gdal(path);
  CHECK(png.width == 900);
  CHECK(png.height == 520);
  REQUIRE(png.bands == 3);
  CHECK(png.rgb == drawn.rgb());
  CHECK(png.pixel(2, 2) == kWhite);
  CHECK(png.pixel(static_cast<int>(std::lround(f.px(100))), static_cast<int>(std::lround(f.py(s.y[100])))) == s.rgb);
  // No temporary file left beside it.
  CHECK(std::distance(fs::directory_iterator(tmp.path), fs::directory_iterator()) == 1);

  // Stored deflate blocks (the path of builds without zlib), over several 64 KiB blocks.
  const std::string stored_path = (tmp.path / "stored.png").string();
  write_png_rgb(stored_path, drawn.width(), drawn.height(), drawn.rgb(), PngDeflate::stored);
  const DecodedImage stored = read_with_gdal(stored_path);
  CHECK(stored.width == 900);
  CHECK(stored.bands == 3);
  CHECK(stored.rgb == drawn.rgb());
  if (png_zlib_compiled()) CHECK(fs::file_size(path) < fs::file_size(stored_path) / 4);
#endif
}

TEST_CASE("PNG: Pillow decodes it too (when python3-pil is installed)") {
  if (rsd::test::run_shell("/usr/bin/python3 -c 'import PIL'").exit_code != 0) {
    MESSAGE("skipped: /usr/bin/python3 has no PIL");
    return;
  }
  TempFolder tmp;
  Canvas c(31, 17, 0x102030);
  c.fill_rect(3, 4, 5, 6, 0xFFEE00);
  for (const PngDeflate deflate : {PngDeflate::best, PngDeflate::stored}) {
    const std::string path = (tmp.path / "small.png").string();
    write_png_rgb(path, c.width(), c.height(), c.rgb(), deflate);
    // Pillow verifies the CRCs and the zlib stream (Adler-32) while loading.
    const rsd::test::ShellResult r = rsd::test::run_shell(
        "/usr/bin/python3 -c \"from PIL import Image; im = Image.open('" + path +
        "'); im.load(); print(im.size, im.mode, im.getpixel((0, 0)), im.getpixel((5, 6)))\"");
    CHECK(r.exit_code == 0);
    CHECK(r.output == "(31, 17) RGB (16, 32, 48) (255, 238, 0)\n");
  }
}

}  // TEST_SUITE
