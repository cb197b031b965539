#include "models/downstream/classification_metrics.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "engine/error.h"

namespace rsd::downstream {

ConfusionMatrix::ConfusionMatrix(int classes) : classes_(classes) {
  RSD_CHECK(classes > 0, "confusion matrix: the number of classes must be positive, got ", classes);
  counts_.assign(static_cast<size_t>(classes) * static_cast<size_t>(classes), 0);
}

ConfusionMatrix ConfusionMatrix::from_predictions(int classes, const std::vector<int32_t>& truth,
                                                  const std::vector<int32_t>& predicted) {
  RSD_CHECK(truth.size() == predicted.size(), "confusion matrix: ", truth.size(), " labels but ", predicted.size(),
            " predictions");
  ConfusionMatrix cm(classes);
  for (size_t i = 0; i < truth.size(); ++i) cm.add(truth[i], predicted[i]);
  return cm;
}

void ConfusionMatrix::add(int truth, int predicted, int64_t count) {
  RSD_CHECK(truth >= 0 && truth < classes_, "confusion matrix: true class ", truth, " is outside [0, ", classes_, ")");
  RSD_CHECK(predicted >= 0 && predicted < classes_, "confusion matrix: predicted class ", predicted, " is outside [0, ",
            classes_, ")");
  counts_[static_cast<size_t>(truth * classes_ + predicted)] += count;
}

int64_t ConfusionMatrix::at(int truth, int predicted) const {
  RSD_CHECK(truth >= 0 && truth < classes_ && predicted >= 0 && predicted < classes_, "confusion matrix: cell (", truth,
            ", ", predicted, ") is outside ", classes_, " x ", classes_);
  return counts_[static_cast<size_t>(truth * classes_ + predicted)];
}

int64_t ConfusionMatrix::total() const {
  int64_t n = 0;
  for (int64_t c : counts_) n += c;
  return n;
}

int64_t ConfusionMatrix::support(int k) const {
  int64_t n = 0;
  for (int p = 0; p < classes_; ++p) n += at(k, p);
  return n;
}

int64_t ConfusionMatrix::predicted_count(int k) const {
  int64_t n = 0;
  for (int t = 0; t < classes_; ++t) n += at(t, k);
  return n;
}

namespace {

double ratio(int64_t num, int64_t den) { return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den); }

}  // namespace

ClassificationMetrics compute_metrics(const ConfusionMatrix& cm) {
  ClassificationMetrics m;
  const int k_count = cm.classes();
  int64_t correct = 0;
  double f1_sum = 0;
  for (int k = 0; k < k_count; ++k) {
    const int64_t tp = cm.at(k, k);
    correct += tp;
    const double p = ratio(tp, cm.predicted_count(k));
    const double r = ratio(tp, cm.support(k));
    const double f1 = p + r > 0 ? 2 * p * r / (p + r) : 0.0;
    m.precision.push_back(p);
    m.recall.push_back(r);
    m.f1.push_back(f1);
    m.support.push_back(cm.support(k));
    if (cm.support(k) > 0) {
      f1_sum += f1;
      ++m.supported_classes;
    }
  }
  m.accuracy = ratio(correct, cm.total());
  m.macro_f1 = m.supported_classes > 0 ? f1_sum / m.supported_classes : 0.0;
  return m;
}

namespace {

std::string fixed(double v, int digits = 3) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string pad(const std::string& s, size_t width, bool left_align) {
  const std::string cut = s.size() > width ? s.substr(0, width) : s;
  const std::string fill(width - cut.size(), ' ');
  return left_align ? cut + fill : fill + cut;
}

}  // namespace

std::string metrics_table(const ClassificationMetrics& m, const ConfusionMatrix& cm,
                          const std::vector<std::string>& class_names) {
  RSD_CHECK(static_cast<int>(class_names.size()) == cm.classes(), "metrics table: ", class_names.size(),
            " class names for ", cm.classes(), " classes");
  size_t name_width = 5;
  for (const std::string& n : class_names) name_width = std::max(name_width, std::min<size_t>(n.size(), 24));
  std::ostringstream out;
  out << pad("class", name_width + 5, true) << pad("precision", 10, false) << pad("recall", 8, false)
      << pad("F1", 8, false) << pad("support", 9, false) << "\n";
  for (int k = 0; k < cm.classes(); ++k) {
    const auto i = static_cast<size_t>(k);
    out << pad(std::to_string(k), 3, false) << "  " << pad(class_names[i], name_width, true)
        << pad(fixed(m.precision[i]), 10, false) << pad(fixed(m.recall[i]), 8, false) << pad(fixed(m.f1[i]), 8, false)
        << pad(std::to_string(m.support[i]), 9, false) << "\n";
  }
  out << "accuracy " << fixed(m.accuracy, 4) << "  macro-F1 " << fixed(m.macro_f1, 4) << " (over "
      << m.supported_classes << " class(es) with support)\n";
  out << "confusion matrix (rows: true class, columns: predicted class index)\n";
  out << pad("", name_width + 5, true);
  for (int p = 0; p < cm.classes(); ++p) out << pad(std::to_string(p), 6, false);
  out << "\n";
  for (int t = 0; t < cm.classes(); ++t) {
    out << pad(std::to_string(t), 3, false) << "  " << pad(class_names[static_cast<size_t>(t)], name_width, true);
    for (int p = 0; p < cm.classes(); ++p) out << pad(std::to_string(cm.at(t, p)), 6, false);
    out << "\n";
  }
  return out.str();
}

}  // namespace rsd::downstream
