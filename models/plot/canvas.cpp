#include "models/plot/canvas.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"
#include "models/plot/bitmap_font.h"
#include "models/plot/png_writer.h"

namespace rsd::plot {
namespace {

constexpr int kMaxSide = 1 << 15;

// Distance from (px, py) to the segment (ax, ay)-(bx, by).
double distance_to_segment(double px, double py, double ax, double ay, double bx, double by) {
  const double dx = bx - ax, dy = by - ay;
  const double length2 = dx * dx + dy * dy;
  double t = length2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / length2 : 0.0;
  t = std::clamp(t, 0.0, 1.0);
  return std::hypot(px - (ax + t * dx), py - (ay + t * dy));
}

// floor / ceil of a coordinate, kept within [lo, hi] before the cast (coordinates may be huge).
int floor_within(double v, int lo, int hi) {
  return static_cast<int>(std::clamp(std::floor(v), static_cast<double>(lo), static_cast<double>(hi)));
}
int ceil_within(double v, int lo, int hi) {
  return static_cast<int>(std::clamp(std::ceil(v), static_cast<double>(lo), static_cast<double>(hi)));
}

}  // namespace

Canvas::Canvas(int width, int height, uint32_t background) : width_(width), height_(height) {
  RSD_CHECK(width >= 1 && height >= 1 && width <= kMaxSide && height <= kMaxSide, "Canvas: size must be in [1, ",
            kMaxSide, "] on each side, got ", width, " x ", height);
  rgb_.resize(static_cast<size_t>(width) * static_cast<size_t>(height) * 3);
  reset_clip();
  fill_rect(0, 0, width, height, background);
}

uint32_t Canvas::pixel(int x, int y) const {
  RSD_CHECK(x >= 0 && y >= 0 && x < width_ && y < height_, "Canvas: pixel (", x, ", ", y, ") is outside the ",
            width_, " x ", height_, " image");
  const size_t i = (static_cast<size_t>(y) * static_cast<size_t>(width_) + static_cast<size_t>(x)) * 3;
  return (uint32_t{rgb_[i]} << 16) | (uint32_t{rgb_[i + 1]} << 8) | uint32_t{rgb_[i + 2]};
}

void Canvas::set_clip(const PixelRect& rect) {
  const int x0 = std::max(rect.x, 0), y0 = std::max(rect.y, 0);
  const int x1 = std::min(rect.x + rect.width, width_), y1 = std::min(rect.y + rect.height, height_);
  clip_ = PixelRect{x0, y0, std::max(x1 - x0, 0), std::max(y1 - y0, 0)};
}

void Canvas::reset_clip() { clip_ = PixelRect{0, 0, width_, height_}; }

bool Canvas::in_clip(int x, int y) const {
  return x >= clip_.x && y >= clip_.y && x < clip_.x + clip_.width && y < clip_.y + clip_.height;
}

void Canvas::blend(int x, int y, uint32_t rgb, double alpha) {
  if (!in_clip(x, y) || !(alpha > 0)) return;
  alpha = std::min(alpha, 1.0);
  const size_t i = (static_cast<size_t>(y) * static_cast<size_t>(width_) + static_cast<size_t>(x)) * 3;
  for (int c = 0; c < 3; ++c) {
    const double src = static_cast<double>((rgb >> (16 - 8 * c)) & 0xFFu);
    const double dst = rgb_[i + static_cast<size_t>(c)];
    rgb_[i + static_cast<size_t>(c)] = static_cast<uint8_t>(std::lround(dst + (src - dst) * alpha));
  }
}

void Canvas::fill_rect(int x, int y, int w, int h, uint32_t rgb) {
  const int x0 = std::max(x, clip_.x), y0 = std::max(y, clip_.y);
  const int x1 = std::min(x + w, clip_.x + clip_.width), y1 = std::min(y + h, clip_.y + clip_.height);
  for (int yy = y0; yy < y1; ++yy) {
    for (int xx = x0; xx < x1; ++xx) blend(xx, yy, rgb, 1.0);
  }
}

void Canvas::stroke_rect(int x, int y, int w, int h, uint32_t rgb) {
  if (w <= 0 || h <= 0) return;
  fill_rect(x, y, w, 1, rgb);
  fill_rect(x, y + h - 1, w, 1, rgb);
  fill_rect(x, y, 1, h, rgb);
  fill_rect(x + w - 1, y, 1, h, rgb);
}

void Canvas::line(double x0, double y0, double x1, double y1, uint32_t rgb, double thickness, bool antialias) {
  polyline({{x0, y0}, {x1, y1}}, rgb, thickness, antialias);
}

void Canvas::dashed_line(double x0, double y0, double x1, double y1, uint32_t rgb, double dash, double gap,
                         double thickness) {
  RSD_CHECK(dash > 0 && gap >= 0, "Canvas: dashes need dash > 0 and gap >= 0, got ", dash, " and ", gap);
  const double length = std::hypot(x1 - x0, y1 - y0);
  if (!(length > 0)) {
    line(x0, y0, x1, y1, rgb, thickness);
    return;
  }
  const double ux = (x1 - x0) / length, uy = (y1 - y0) / length;
  // Dashes end at length - 1 at most, so that a dash of n pixels covers n pixel centres.
  for (double t = 0; t <= length; t += dash + gap) {
    const double end = std::min(t + dash - 1, length);
    line(x0 + ux * t, y0 + uy * t, x0 + ux * end, y0 + uy * end, rgb, thickness);
  }
}

void Canvas::polyline(const std::vector<std::pair<double, double>>& points, uint32_t rgb, double thickness,
                      bool antialias) {
  RSD_CHECK(thickness > 0 && std::isfinite(thickness), "Canvas: line thickness must be > 0, got ", thickness);
  if (points.empty() || clip_.width == 0 || clip_.height == 0) return;
  for (const auto& [x, y] : points) {
    RSD_CHECK(std::isfinite(x) && std::isfinite(y), "Canvas: line point (", x, ", ", y, ") is not finite");
  }
  const double reach = thickness / 2 + 1;  // pixels farther than this from the line get nothing
  // The box the line can touch, within the clip rectangle; empty when off it.
  double min_x = points[0].first, max_x = min_x, min_y = points[0].second, max_y = min_y;
  for (const auto& [x, y] : points) {
    min_x = std::min(min_x, x);
    max_x = std::max(max_x, x);
    min_y = std::min(min_y, y);
    max_y = std::max(max_y, y);
  }
  const int cx1 = clip_.x + clip_.width - 1, cy1 = clip_.y + clip_.height - 1;
  const int bx0 = floor_within(min_x - reach, clip_.x, cx1 + 1), bx1 = ceil_within(max_x + reach, clip_.x - 1, cx1);
  const int by0 = floor_within(min_y - reach, clip_.y, cy1 + 1), by1 = ceil_within(max_y + reach, clip_.y - 1, cy1);
  if (bx0 > bx1 || by0 > by1) return;
  const int box_w = bx1 - bx0 + 1;
  // Coverage per pixel of the box: the maximum over the segments, so joints are not drawn twice.
  std::vector<float> coverage(static_cast<size_t>(box_w) * static_cast<size_t>(by1 - by0 + 1), 0.0f);
  const auto cell = [&](int x, int y) -> float& {
    return coverage[static_cast<size_t>(y - by0) * static_cast<size_t>(box_w) + static_cast<size_t>(x - bx0)];
  };
  const size_t segments = points.size() == 1 ? 1 : points.size() - 1;
  for (size_t s = 0; s < segments; ++s) {
    const auto [ax, ay] = points[s];
    const auto [bx, by] = points[std::min(s + 1, points.size() - 1)];
    const int x_lo = floor_within(std::min(ax, bx) - reach, bx0, bx1 + 1);
    const int x_hi = ceil_within(std::max(ax, bx) + reach, bx0 - 1, bx1);
    const int y_lo = floor_within(std::min(ay, by) - reach, by0, by1 + 1);
    const int y_hi = ceil_within(std::max(ay, by) + reach, by0 - 1, by1);
    for (int y = y_lo; y <= y_hi; ++y) {
      for (int x = x_lo; x <= x_hi; ++x) {
        const double d = distance_to_segment(x, y, ax, ay, bx, by);
        const double c = antialias ? std::clamp(thickness / 2 + 0.5 - d, 0.0, 1.0) : (d <= thickness / 2 ? 1.0 : 0.0);
        cell(x, y) = std::max(cell(x, y), static_cast<float>(c));
      }
    }
  }
  for (int y = by0; y <= by1; ++y) {
    for (int x = bx0; x <= bx1; ++x) {
      if (cell(x, y) > 0) blend(x, y, rgb, cell(x, y));
    }
  }
}

template <typename Plot>
void Canvas::for_each_text_pixel(const std::string& s, int scale, Plot plot) const {
  RSD_CHECK(scale >= 1, "Canvas: text scale must be >= 1, got ", scale);
  for (size_t i = 0; i < s.size(); ++i) {
    const GlyphRows& rows = glyph_of(s[i]);
    const int u0 = static_cast<int>(i) * (kGlyphWidth + 1) * scale;
    for (int r = 0; r < kGlyphHeight; ++r) {
      for (int col = 0; col < kGlyphWidth; ++col) {
        if (!((rows[static_cast<size_t>(r)] >> (kGlyphWidth - 1 - col)) & 1u)) continue;
        for (int dv = 0; dv < scale; ++dv) {
          for (int du = 0; du < scale; ++du) plot(u0 + col * scale + du, r * scale + dv);
        }
      }
    }
  }
}

void Canvas::text(int x, int y, const std::string& s, uint32_t rgb, int scale) {
  for_each_text_pixel(s, scale, [&](int u, int v) { blend(x + u, y + v, rgb, 1.0); });
}

void Canvas::text_up(int x, int y, const std::string& s, uint32_t rgb, int scale) {
  for_each_text_pixel(s, scale, [&](int u, int v) { blend(x + v, y - u, rgb, 1.0); });
}

int Canvas::text_width(const std::string& s, int scale) {
  if (s.empty()) return 0;
  return (static_cast<int>(s.size()) * (kGlyphWidth + 1) - 1) * scale;
}

int Canvas::text_height(int scale) { return kGlyphHeight * scale; }

void Canvas::write_png(const std::string& path) const { write_png_rgb(path, width_, height_, rgb_); }

}  // namespace rsd::plot
