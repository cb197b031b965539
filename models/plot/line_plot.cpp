#include "models/plot/line_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <utility>

#include "engine/error.h"

namespace rsd::plot {
namespace {

constexpr uint32_t kInk = 0x222222;        // text
constexpr uint32_t kAxis = 0x444444;       // frame and tick marks
constexpr uint32_t kGrid = 0xDDDDDD;       // grid lines
constexpr uint32_t kBackground = 0xFFFFFF;
constexpr int kPad = 10;
constexpr int kTickLength = 5;

// The smallest 1, 2, 5 or 10 x 10^k at least x (x > 0).
double nice_step_at_least(double x) {
  const double power = std::pow(10.0, std::floor(std::log10(x)));
  const double f = x / power;
  const double nice = f <= 1 + 1e-9 ? 1 : f <= 2 + 1e-9 ? 2 : f <= 5 + 1e-9 ? 5 : 10;
  return nice * power;
}

// "2.5e-05" -> "2.5e-5", "1e+07" -> "1e7".
std::string compact_exponent(std::string s) {
  const size_t e = s.find('e');
  if (e == std::string::npos) return s;
  std::string mantissa = s.substr(0, e), exponent = s.substr(e + 1);
  const bool negative = !exponent.empty() && exponent[0] == '-';
  if (!exponent.empty() && (exponent[0] == '-' || exponent[0] == '+')) exponent.erase(0, 1);
  exponent.erase(0, std::min(exponent.find_first_not_of('0'), exponent.size() - 1));
  return mantissa + "e" + (negative ? "-" : "") + exponent;
}

std::string printf_text(const char* format, int precision, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, precision, v);
  return buf;
}

// The data values of the valid points of a series, in order, split into runs at invalid points.
std::vector<std::vector<std::pair<double, double>>> runs_of(const PlotSeries& s, bool log_y) {
  std::vector<std::vector<std::pair<double, double>>> runs(1);
  for (size_t i = 0; i < s.x.size(); ++i) {
    const double x = s.x[i], y = s.y[i];
    if (std::isfinite(x) && std::isfinite(y) && (!log_y || y > 0)) {
      runs.back().emplace_back(x, y);
    } else if (!runs.back().empty()) {
      runs.emplace_back();
    }
  }
  if (runs.back().empty()) runs.pop_back();
  return runs;
}

constexpr double kInf = std::numeric_limits<double>::infinity();

struct DataRange {
  double x_lo = kInf, x_hi = -kInf, y_lo = kInf, y_hi = -kInf;
  bool empty() const { return !(x_lo <= x_hi); }
};

int widest(const std::vector<std::string>& labels, int scale) {
  int w = 0;
  for (const std::string& l : labels) w = std::max(w, Canvas::text_width(l, scale));
  return w;
}

// An x axis whose labels do not overlap in `width` pixels.
AxisTicks x_axis_fitting(double lo, double hi, int width, int scale) {
  AxisTicks axis;
  for (int max_ticks = 10; max_ticks >= 2; --max_ticks) {
    axis = nice_axis(lo, hi, max_ticks);
    const int spacing = widest(axis.labels, scale) + 4 * Canvas::text_width("0", scale);
    if (static_cast<int>(axis.ticks.size() - 1) * spacing <= width) break;
  }
  return axis;
}

void draw_legend(Canvas& canvas, const std::vector<PlotSeries>& series, const PixelRect& area, int scale,
                 double thickness) {
  std::vector<const PlotSeries*> named;
  for (const PlotSeries& s : series) {
    if (!s.name.empty()) named.push_back(&s);
  }
  if (named.empty()) return;
  const int th = Canvas::text_height(scale), sample = 12 * scale, gap = 3 * scale;
  int text_w = 0;
  for (const PlotSeries* s : named) text_w = std::max(text_w, Canvas::text_width(s->name, scale));
  const int row = th + gap * 2;
  const int box_w = gap * 4 + sample + text_w, box_h = static_cast<int>(named.size()) * row + gap * 2;
  const int bx = area.x + area.width - box_w - kPad, by = area.y + kPad;
  canvas.fill_rect(bx, by, box_w, box_h, kBackground);
  canvas.stroke_rect(bx, by, box_w, box_h, kAxis);
  for (size_t i = 0; i < named.size(); ++i) {
    const int ry = by + gap + static_cast<int>(i) * row + gap;
    const double line_y = ry + (th - 1) / 2.0;
    canvas.line(bx + gap * 2, line_y, bx + gap * 2 + sample - 1, line_y, named[i]->rgb, thickness);
    canvas.text(bx + gap * 3 + sample, ry, named[i]->name, kInk, scale);
  }
}

}  // namespace

std::string tick_label(double value, double step) {
  step = std::fabs(step);
  if (!(step > 0) || !std::isfinite(step)) step = std::max(std::fabs(value), 1.0);
  if (std::fabs(value) < step * 1e-6) value = 0.0;  // rounding residue of a zero tick
  const double magnitude = std::max(std::fabs(value), step);
  if (magnitude >= 1e6 || step < 1e-4) {
    if (value == 0.0) return "0";
    const int digits = static_cast<int>(std::clamp(std::floor(std::log10(std::fabs(value))) -
                                                       std::floor(std::log10(step) + 1e-9), 0.0, 6.0));
    return compact_exponent(printf_text("%.*e", digits, value));
  }
  const int decimals = static_cast<int>(std::max(0.0, -std::floor(std::log10(step) + 1e-9)));
  return printf_text("%.*f", decimals, value);
}

AxisTicks nice_axis(double lo, double hi, int max_ticks) {
  RSD_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo <= hi, "nice_axis: need finite lo <= hi, got ", lo, ", ",
            hi);
  max_ticks = std::max(max_ticks, 2);
  // A range too narrow to label against its magnitude counts as constant.
  if (hi - lo <= 1e-9 * std::max(std::fabs(lo), std::fabs(hi))) {
    const double half = lo == 0 ? 1.0 : std::fabs(lo) * 0.1;
    const double mid = lo;
    lo = mid - half;
    hi = mid + half;
  }
  double step = nice_step_at_least((hi - lo) / (max_ticks - 1));
  AxisTicks axis;
  for (;;) {
    axis.min = std::floor(lo / step + 1e-9) * step;
    axis.max = std::ceil(hi / step - 1e-9) * step;
    const auto count = static_cast<int>(std::lround((axis.max - axis.min) / step)) + 1;
    if (count <= max_ticks) {
      for (int i = 0; i < count; ++i) {
        double t = axis.min + i * step;
        if (std::fabs(t) < step * 1e-9) t = 0.0;
        axis.ticks.push_back(t);
        axis.labels.push_back(tick_label(t, step));
      }
      return axis;
    }
    step = nice_step_at_least(step * 1.5);
  }
}

AxisTicks log_axis(double lo, double hi, int max_ticks) {
  RSD_CHECK(lo > 0 && hi >= lo && std::isfinite(hi), "log_axis: need 0 < lo <= hi, got ", lo, ", ", hi);
  max_ticks = std::max(max_ticks, 2);
  const int e0 = static_cast<int>(std::floor(std::log10(lo) + 1e-9));
  int e1 = std::max(static_cast<int>(std::ceil(std::log10(hi) - 1e-9)), e0 + 1);
  const int decades = e1 - e0;
  const int stride = std::max(1, (decades + max_ticks - 2) / (max_ticks - 1));
  e1 = e0 + (decades + stride - 1) / stride * stride;
  AxisTicks axis;
  axis.min = std::pow(10.0, e0);
  axis.max = std::pow(10.0, e1);
  const bool minor = decades <= 2 && max_ticks >= 3 * decades + 1;
  for (int e = e0; e <= e1; e += stride) {
    const double power = std::pow(10.0, e);
    for (const double m : {1.0, 2.0, 5.0}) {
      if (m > 1 && (!minor || e == e1)) continue;
      axis.ticks.push_back(m * power);
      axis.labels.push_back(e >= -3 && e <= 5 ? tick_label(m * power, power)
                                              : compact_exponent(printf_text("%.*e", 0, m * power)));
    }
  }
  return axis;
}

double PlotFrame::px(double x) const {
  const double t = (x - x_axis.min) / (x_axis.max - x_axis.min);
  return area.x + t * (area.width - 1);
}

double PlotFrame::py(double y) const {
  const auto f = [this](double v) { return log_y ? std::log10(v) : v; };
  const double t = (f(y) - f(y_axis.min)) / (f(y_axis.max) - f(y_axis.min));
  return area.y + (1 - t) * (area.height - 1);
}

Canvas render_line_plot(const std::vector<PlotSeries>& series, const PlotOptions& options, PlotFrame* frame_out) {
  RSD_CHECK(options.width >= 200 && options.height >= 150, "line plot '", options.title,
            "': the image must be at least 200 x 150 pixels, got ", options.width, " x ", options.height);
  std::vector<std::vector<std::vector<std::pair<double, double>>>> runs;
  DataRange range;
  for (const PlotSeries& s : series) {
    RSD_CHECK(s.x.size() == s.y.size(), "line plot '", options.title, "': series '", s.name, "' has ", s.x.size(),
              " x values and ", s.y.size(), " y values");
    runs.push_back(runs_of(s, options.log_y));
    for (const auto& run : runs.back()) {
      for (const auto& [x, y] : run) {
        range.x_lo = std::min(range.x_lo, x);
        range.x_hi = std::max(range.x_hi, x);
        range.y_lo = std::min(range.y_lo, y);
        range.y_hi = std::max(range.y_hi, y);
      }
    }
  }
  if (range.empty()) range = DataRange{0, 1, options.log_y ? 1.0 : 0.0, options.log_y ? 10.0 : 1.0};

  // Layout: title on top, x tick labels and x label below, y label and y tick labels on the left.
  const int scale = options.height >= 400 ? 2 : 1;
  const int th = Canvas::text_height(scale);
  const int top = kPad + (options.title.empty() ? th / 2 : Canvas::text_height(scale + 1) + kPad);
  const int bottom = kPad + th + kTickLength + 4 + (options.x_label.empty() ? 0 : th + kPad);
  const int plot_h = options.height - top - bottom;
  const int y_ticks = std::clamp(plot_h / (th * 3), 2, 10);
  PlotFrame frame;
  frame.log_y = options.log_y;
  frame.y_axis = options.log_y ? log_axis(range.y_lo, range.y_hi, y_ticks) : nice_axis(range.y_lo, range.y_hi, y_ticks);
  const int left = kPad + (options.y_label.empty() ? 0 : th + kPad) + widest(frame.y_axis.labels, scale) +
                   kTickLength + 4;
  // The last x label is centred on the right edge: half of it may stick out.
  const int right = kPad + Canvas::text_width("00000", scale) / 2;
  const int plot_w = options.width - left - right;
  RSD_CHECK(plot_w >= 20 && plot_h >= 20, "line plot '", options.title, "': a ", options.width, " x ",
            options.height, " image leaves no room for the plot");
  frame.x_axis = x_axis_fitting(range.x_lo, range.x_hi, plot_w, scale);
  frame.area = PixelRect{left, top, plot_w, plot_h};
  const PixelRect& a = frame.area;

  Canvas canvas(options.width, options.height, kBackground);
  // Grid lines and ticks.
  for (size_t i = 0; i < frame.y_axis.ticks.size(); ++i) {
    const double y = std::round(frame.py(frame.y_axis.ticks[i]));
    canvas.dashed_line(a.x, y, a.x + a.width - 1, y, kGrid, 4, 3);
    canvas.line(a.x - kTickLength, y, a.x - 1, y, kAxis, 1, false);
    const std::string& label = frame.y_axis.labels[i];
    canvas.text(a.x - kTickLength - 4 - Canvas::text_width(label, scale), static_cast<int>(y) - th / 2, label, kInk,
                scale);
  }
  for (size_t i = 0; i < frame.x_axis.ticks.size(); ++i) {
    const double x = std::round(frame.px(frame.x_axis.ticks[i]));
    canvas.dashed_line(x, a.y, x, a.y + a.height - 1, kGrid, 4, 3);
    canvas.line(x, a.y + a.height, x, a.y + a.height + kTickLength - 1, kAxis, 1, false);
    const std::string& label = frame.x_axis.labels[i];
    canvas.text(static_cast<int>(x) - Canvas::text_width(label, scale) / 2, a.y + a.height + kTickLength + 4, label,
                kInk, scale);
  }
  canvas.stroke_rect(a.x - 1, a.y - 1, a.width + 2, a.height + 2, kAxis);

  // Titles.
  if (!options.title.empty()) {
    canvas.text((options.width - Canvas::text_width(options.title, scale + 1)) / 2, kPad, options.title, kInk,
                scale + 1);
  }
  if (!options.x_label.empty()) {
    canvas.text(a.x + (a.width - Canvas::text_width(options.x_label, scale)) / 2, options.height - kPad - th,
                options.x_label, kInk, scale);
  }
  if (!options.y_label.empty()) {
    canvas.text_up(kPad, a.y + (a.height + Canvas::text_width(options.y_label, scale)) / 2, options.y_label, kInk,
                   scale);
  }

  // The series, clipped to the plot area.
  const double thickness = scale == 2 ? 2.0 : 1.5;
  canvas.set_clip(a);
  bool any_point = false;
  for (size_t s = 0; s < series.size(); ++s) {
    for (const auto& run : runs[s]) {
      std::vector<std::pair<double, double>> pixels;
      for (const auto& [x, y] : run) pixels.emplace_back(frame.px(x), frame.py(y));
      any_point = true;
      if (pixels.size() == 1) {
        const int r = static_cast<int>(thickness) + 1;
        canvas.fill_rect(static_cast<int>(std::lround(pixels[0].first)) - r,
                         static_cast<int>(std::lround(pixels[0].second)) - r, 2 * r + 1, 2 * r + 1, series[s].rgb);
      } else {
        canvas.polyline(pixels, series[s].rgb, thickness);
      }
    }
  }
  canvas.reset_clip();
  if (!any_point) {
    const std::string note = "no data";
    canvas.text(a.x + (a.width - Canvas::text_width(note, scale)) / 2, a.y + (a.height - th) / 2, note, kInk, scale);
  }
  draw_legend(canvas, series, a, scale, thickness);
  if (frame_out) *frame_out = frame;
  return canvas;
}

void write_line_plot_png(const std::string& path, const std::vector<PlotSeries>& series, const PlotOptions& options) {
  Canvas canvas(1, 1);
  try {
    canvas = render_line_plot(series, options);
  } catch (const Error& e) {
    fail(path, ": ", e.what());
  }
  canvas.write_png(path);
}

}  // namespace rsd::plot
