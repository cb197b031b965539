#include "models/downstream/confusion_plot.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace rsd::downstream {

namespace {

constexpr int kCell = 36;
constexpr int kMargin = 12;
constexpr int kMaxNameChars = 22;

std::string shorten(const std::string& s) { return s.size() > kMaxNameChars ? s.substr(0, kMaxNameChars) : s; }

int channel(uint32_t rgb, int shift) { return static_cast<int>((rgb >> shift) & 0xFF); }

}  // namespace

uint32_t confusion_cell_colour(double fraction) {
  const double f = std::clamp(fraction, 0.0, 1.0);
  const uint32_t dark = 0x08306B;
  auto mix = [&](int shift) {
    const double v = 255.0 + (channel(dark, shift) - 255.0) * f;
    return static_cast<uint32_t>(std::lround(v)) << shift;
  };
  return mix(16) | mix(8) | mix(0);
}

plot::Canvas draw_confusion_matrix(const ConfusionMatrix& cm, const std::vector<std::string>& class_names,
                                   const std::string& title) {
  RSD_CHECK(static_cast<int>(class_names.size()) == cm.classes(), "confusion plot: ", class_names.size(),
            " class names for ", cm.classes(), " classes");
  const int n = cm.classes();
  int label_width = 0;
  for (const std::string& s : class_names) label_width = std::max(label_width, plot::Canvas::text_width(shorten(s)));
  const int title_height = plot::Canvas::text_height(2) + kMargin;
  const int axis_caption = plot::Canvas::text_height() + 6;
  const int grid_x = kMargin + axis_caption + label_width + 6;
  const int grid_y = kMargin + title_height + axis_caption;
  const int width = std::max(grid_x + n * kCell + kMargin, plot::Canvas::text_width(title, 2) + 2 * kMargin);
  const int height = grid_y + n * kCell + 6 + label_width + kMargin;
  plot::Canvas c(width, height);
  c.text(kMargin, kMargin, title, 0x000000, 2);
  c.text(grid_x, kMargin + title_height, "predicted", 0x333333);
  c.text_up(kMargin, grid_y + (n * kCell + plot::Canvas::text_width("true")) / 2, "true", 0x333333);
  for (int t = 0; t < n; ++t) {
    const int64_t support = cm.support(t);
    const std::string name = shorten(class_names[static_cast<size_t>(t)]);
    c.text(grid_x - 6 - plot::Canvas::text_width(name), grid_y + t * kCell + (kCell - plot::Canvas::text_height()) / 2,
           name, 0x000000);
    for (int p = 0; p < n; ++p) {
      const int64_t count = cm.at(t, p);
      const double fraction = support > 0 ? static_cast<double>(count) / static_cast<double>(support) : 0.0;
      const int x = grid_x + p * kCell, y = grid_y + t * kCell;
      c.fill_rect(x, y, kCell, kCell, confusion_cell_colour(fraction));
      c.stroke_rect(x, y, kCell, kCell, 0xCCCCCC);
      const std::string text = std::to_string(count);
      c.text(x + (kCell - plot::Canvas::text_width(text)) / 2, y + (kCell - plot::Canvas::text_height()) / 2, text,
             fraction > 0.5 ? 0xFFFFFF : 0x000000);
    }
  }
  for (int p = 0; p < n; ++p) {
    const std::string name = shorten(class_names[static_cast<size_t>(p)]);
    c.text_up(grid_x + p * kCell + (kCell - plot::Canvas::text_height()) / 2,
              grid_y + n * kCell + 6 + plot::Canvas::text_width(name), name, 0x000000);
  }
  return c;
}

void write_confusion_png(const std::string& path, const ConfusionMatrix& cm,
                         const std::vector<std::string>& class_names, const std::string& title) {
  draw_confusion_matrix(cm, class_names, title).write_png(path);
}

}  // namespace rsd::downstream
