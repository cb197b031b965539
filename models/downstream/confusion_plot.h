// The confusion matrix as a PNG heat map: one square cell per (true, predicted) pair, shaded by
// the row-normalized count (the fraction of that true class), the count written in each cell, the
// class names along the rows (truth) and columns (prediction, written upwards), and a title.
#pragma once
#include <string>
#include <vector>

#include "models/downstream/classification_metrics.h"
#include "models/plot/canvas.h"

namespace rsd::downstream {

plot::Canvas draw_confusion_matrix(const ConfusionMatrix& cm, const std::vector<std::string>& class_names,
                                   const std::string& title);

// Draws and writes the PNG atomically; errors name the path.
void write_confusion_png(const std::string& path, const ConfusionMatrix& cm,
                         const std::vector<std::string>& class_names, const std::string& title);

// The colour of a row fraction in [0, 1]: white (0) to dark blue (1).
uint32_t confusion_cell_colour(double fraction);

}  // namespace rsd::downstream
