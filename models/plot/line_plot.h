// Line plots as PNG files (the loss curve of a training run), drawn on a Canvas: axes with "nice"
// tick values (1, 2 or 5 x 10^k; powers of ten on a log axis) and their labels, grid lines, a
// title, axis labels and a legend. Non-finite points (and, on a log axis, values <= 0) are left
// out and break the line, leaving a gap; a point with no neighbour to join is drawn as a dot. An
// empty plot, a single point and a constant series all give a readable plot.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/plot/canvas.h"

namespace rsd::plot {

struct PlotSeries {
  std::string name;  // in the legend; unnamed series are left out of it
  std::vector<double> x, y;
  uint32_t rgb = 0x1F77B4;
};

struct PlotOptions {
  std::string title, x_label, y_label;
  int width = 900, height = 520;  // pixels; at least 200 x 150
  bool log_y = false;
};

// The ends and ticks of an axis, in data values, and the ticks' labels.
struct AxisTicks {
  double min = 0, max = 1;
  std::vector<double> ticks;
  std::vector<std::string> labels;
};

// A linear axis covering [lo, hi], with ends and at most max_ticks ticks at multiples of a step of
// 1, 2 or 5 x 10^k. A zero-width range is widened around its value.
AxisTicks nice_axis(double lo, double hi, int max_ticks);
// A log10 axis covering [lo, hi] (both > 0) from a power of ten to a power of ten; ticks at powers
// of ten (every few when there are many decades), with 2 and 5 x 10^k added over two decades or less.
AxisTicks log_axis(double lo, double hi, int max_ticks);
// The label of a tick on an axis of ticks `step` apart: "0.25", "1500", "1e-5", "2.5e+7" -> "2.5e7".
std::string tick_label(double value, double step);

// Where the plot area lies in the image and what it shows.
struct PlotFrame {
  PixelRect area;  // the plot area: data pixels lie in it
  AxisTicks x_axis, y_axis;
  bool log_y = false;
  // The pixel coordinates of a data point (centre of the pixel; not rounded).
  double px(double x) const;
  double py(double y) const;
};

// Draws the plot; `frame`, when given, receives its layout (for tests and overlays).
Canvas render_line_plot(const std::vector<PlotSeries>& series, const PlotOptions& options,
                        PlotFrame* frame = nullptr);
// Draws the plot and writes it as a PNG (atomically).
void write_line_plot_png(const std::string& path, const std::vector<PlotSeries>& series, const PlotOptions& options);

}  // namespace rsd::plot
