// Single-label classification metrics from a confusion matrix: accuracy, per-class precision,
// recall and F1, macro-F1, and a text table of them.
//
// Conventions (documented because libraries differ):
// - confusion(t, p) counts samples of true class t predicted as p (rows: truth, columns: prediction).
// - precision_k = C(k,k) / column sum k; 0 when nothing was predicted as k.
// - recall_k = C(k,k) / row sum k (the class's support); 0 when k has no support.
// - F1_k = 2 P R / (P + R); 0 when P + R = 0.
// - macro-F1 averages F1 over the classes WITH support only: a class absent from the evaluated
//   split has no recall to measure, so it neither counts as 0 nor as 1. Predictions of it still
//   count: each is an error of its true class, lowering that class's recall and the accuracy.
//   With no supported class at all macro-F1 is 0.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rsd::downstream {

class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int classes);
  // From predictions and labels (each in [0, classes)); errors name the bad index.
  static ConfusionMatrix from_predictions(int classes, const std::vector<int32_t>& truth,
                                          const std::vector<int32_t>& predicted);

  void add(int truth, int predicted, int64_t count = 1);
  int classes() const { return classes_; }
  int64_t at(int truth, int predicted) const;
  int64_t total() const;
  int64_t support(int k) const;          // row sum
  int64_t predicted_count(int k) const;  // column sum

 private:
  int classes_;
  std::vector<int64_t> counts_;  // (classes, classes) row-major
};

struct ClassificationMetrics {
  double accuracy = 0;
  double macro_f1 = 0;
  std::vector<double> precision, recall, f1;  // per class
  std::vector<int64_t> support;               // per class
  int supported_classes = 0;                  // how many entered macro-F1
};

ClassificationMetrics compute_metrics(const ConfusionMatrix& cm);

// The per-class table (precision, recall, F1, support), then accuracy and macro-F1, then the
// confusion matrix with the class names (shortened to fit) as row labels. Column ids in the matrix
// are class indices.
std::string metrics_table(const ClassificationMetrics& m, const ConfusionMatrix& cm,
                          const std::vector<std::string>& class_names);

}  // namespace rsd::downstream
