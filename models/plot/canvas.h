// An RGB8 image to draw plots and heat maps on: rectangles, lines (anti-aliased or not, of any
// thickness), dashed lines, polylines, and text in the 5 x 7 bitmap font (models/plot/bitmap_font.h)
// at an integer scale. Colours are 0xRRGGBB.
//
// Coordinates are pixels with pixel (x, y) centred on the point (x, y): a line from (0, 10) to
// (99, 10) with thickness 1 covers exactly row 10 from column 0 to 99. Everything drawn is
// clipped to the clip rectangle (the whole image unless set), so drawing off the image is fine.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace rsd::plot {

struct PixelRect {
  int x = 0, y = 0, width = 0, height = 0;
};

class Canvas {
 public:
  Canvas(int width, int height, uint32_t background = 0xFFFFFF);

  int width() const { return width_; }
  int height() const { return height_; }
  // (height, width, 3) row-major, as write_png_rgb wants.
  const std::vector<uint8_t>& rgb() const { return rgb_; }
  // 0xRRGGBB of a pixel inside the image.
  uint32_t pixel(int x, int y) const;

  void set_clip(const PixelRect& rect);  // intersected with the image
  void reset_clip();

  // Mixes `rgb` into a pixel with weight alpha in [0, 1] (1: replaces it).
  void blend(int x, int y, uint32_t rgb, double alpha);
  void fill_rect(int x, int y, int w, int h, uint32_t rgb);
  // A one-pixel outline of the rectangle's border pixels.
  void stroke_rect(int x, int y, int w, int h, uint32_t rgb);

  void line(double x0, double y0, double x1, double y1, uint32_t rgb, double thickness = 1.0,
            bool antialias = true);
  // Dashes of `dash` pixels separated by `gap` pixels, starting with a dash at (x0, y0).
  void dashed_line(double x0, double y0, double x1, double y1, uint32_t rgb, double dash = 6.0, double gap = 4.0,
                   double thickness = 1.0);
  // Connected segments through the points, each pixel covered once (no darker joints).
  void polyline(const std::vector<std::pair<double, double>>& points, uint32_t rgb, double thickness = 1.0,
                bool antialias = true);

  // Text with its top-left corner at (x, y); each font pixel is a scale x scale block.
  void text(int x, int y, const std::string& s, uint32_t rgb, int scale = 1);
  // Text turned 90 degrees counter-clockwise (reading upwards), its bounding box's bottom-left
  // corner at (x, y).
  void text_up(int x, int y, const std::string& s, uint32_t rgb, int scale = 1);
  static int text_width(const std::string& s, int scale = 1);
  static int text_height(int scale = 1);

  void write_png(const std::string& path) const;

 private:
  bool in_clip(int x, int y) const;
  // The glyphs' pixels in text coordinates (u along the text, v down), handed to `plot`.
  template <typename Plot>
  void for_each_text_pixel(const std::string& s, int scale, Plot plot) const;

  int width_, height_;
  std::vector<uint8_t> rgb_;
  PixelRect clip_;
};

}  // namespace rsd::plot
