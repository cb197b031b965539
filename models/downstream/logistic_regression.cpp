#include "models/downstream/logistic_regression.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops/cross_entropy.h"
#include "engine/ops/linear.h"
#include "models/downstream/classification_metrics.h"
#include "models/downstream/lbfgs.h"
#include "models/downstream/seeded_stream.h"

namespace rsd::downstream {

namespace {

void check_features(const LabeledFeatures& f, int classes, const char* what) {
  RSD_CHECK(f.rows > 0 && f.dim > 0, what, ": no features (", f.rows, " rows of dimension ", f.dim, ")");
  RSD_CHECK(static_cast<int64_t>(f.x.size()) == f.rows * f.dim && static_cast<int64_t>(f.y.size()) == f.rows, what,
            ": ", f.x.size(), " values and ", f.y.size(), " labels for ", f.rows, " x ", f.dim, " features");
  for (int32_t y : f.y) RSD_CHECK(y >= 0 && y < classes, what, ": label ", y, " is outside [0, ", classes, ")");
  for (float v : f.x) RSD_CHECK(std::isfinite(v), what, ": a feature is not finite (", v, ")");
}

// Column means and inverse standard deviations (1 for a constant column).
void standardization(const LabeledFeatures& f, std::vector<float>* mean, std::vector<float>* inv_std) {
  std::vector<double> m(static_cast<size_t>(f.dim), 0.0), s(static_cast<size_t>(f.dim), 0.0);
  for (int64_t i = 0; i < f.rows; ++i)
    for (int64_t j = 0; j < f.dim; ++j) m[static_cast<size_t>(j)] += f.row(i)[j];
  for (double& v : m) v /= static_cast<double>(f.rows);
  for (int64_t i = 0; i < f.rows; ++i)
    for (int64_t j = 0; j < f.dim; ++j) {
      const double d = f.row(i)[j] - m[static_cast<size_t>(j)];
      s[static_cast<size_t>(j)] += d * d;
    }
  mean->resize(m.size());
  inv_std->resize(m.size());
  for (size_t j = 0; j < m.size(); ++j) {
    const double sd = std::sqrt(s[j] / static_cast<double>(f.rows));
    (*mean)[j] = static_cast<float>(m[j]);
    (*inv_std)[j] = sd > 1e-12 ? static_cast<float>(1.0 / sd) : 1.0f;
  }
}

// z: (rows, dim) standardized features, row-major.
std::vector<float> standardized(const LogisticModel& model, const LabeledFeatures& f) {
  RSD_CHECK(f.dim == model.dim, "logistic regression: features of dimension ", f.dim, " for a model of dimension ",
            model.dim);
  std::vector<float> z(f.x.size());
  for (int64_t i = 0; i < f.rows; ++i)
    for (int64_t j = 0; j < f.dim; ++j) {
      const auto k = static_cast<size_t>(i * f.dim + j);
      z[k] = (f.x[k] - model.mean[static_cast<size_t>(j)]) * model.inv_std[static_cast<size_t>(j)];
    }
  return z;
}

Tensor host_f64(const std::vector<float>& values, const Shape& shape) {
  Tensor t = Tensor::empty(shape, DType::f64);
  double* p = t.data<double>();
  for (size_t i = 0; i < values.size(); ++i) p[i] = values[i];
  return t;
}

// The penalized training loss of the head and its gradient, evaluated by the engine's ops in
// float64: x = [W (classes, dim) row-major, b (classes)].
class PenalizedCrossEntropy {
 public:
  PenalizedCrossEntropy(const std::vector<float>& z, const LabeledFeatures& train, int classes, double l2)
      : x_(host_f64(z, {train.rows, train.dim})),
        labels_(Tensor::from_ints(train.y, {train.rows})),
        weight_(Tensor::zeros({classes, train.dim}, DType::f64)),
        bias_(Tensor::zeros({classes}, DType::f64)),
        l2_(l2) {
    weight_.set_requires_grad(true);
    bias_.set_requires_grad(true);
  }

  int64_t size() const { return weight_.numel() + bias_.numel(); }

  double operator()(const std::vector<double>& x, std::vector<double>& g) {
    const int64_t nw = weight_.numel();
    std::memcpy(weight_.data<double>(), x.data(), static_cast<size_t>(nw) * sizeof(double));
    std::memcpy(bias_.data<double>(), x.data() + nw, static_cast<size_t>(bias_.numel()) * sizeof(double));
    weight_.zero_grad();
    bias_.zero_grad();
    const Tensor loss = softmax_cross_entropy(linear(x_, weight_, bias_), labels_);
    backward(loss);
    const double* gw = weight_.grad().data<double>();
    const double* gb = bias_.grad().data<double>();
    double penalty = 0;
    for (int64_t i = 0; i < nw; ++i) {
      penalty += x[static_cast<size_t>(i)] * x[static_cast<size_t>(i)];
      g[static_cast<size_t>(i)] = gw[i] + l2_ * x[static_cast<size_t>(i)];
    }
    for (int64_t i = 0; i < bias_.numel(); ++i) g[static_cast<size_t>(nw + i)] = gb[i];
    return loss.item() + 0.5 * l2_ * penalty;
  }

  double cross_entropy(const std::vector<double>& x) {
    std::vector<double> g(x.size());
    const double with_penalty = (*this)(x, g);
    double penalty = 0;
    for (int64_t i = 0; i < weight_.numel(); ++i) penalty += x[static_cast<size_t>(i)] * x[static_cast<size_t>(i)];
    return with_penalty - 0.5 * l2_ * penalty;
  }

 private:
  Tensor x_, labels_, weight_, bias_;
  double l2_;
};

}  // namespace

std::pair<std::vector<int64_t>, std::vector<int64_t>> stratified_split(const std::vector<int32_t>& labels,
                                                                       double fraction, uint64_t seed) {
  RSD_CHECK(fraction > 0 && fraction < 1, "stratified split: the validation fraction must be in (0, 1), got ",
            fraction);
  int32_t max_label = -1;
  for (int32_t y : labels) max_label = std::max(max_label, y);
  std::vector<int64_t> train, validation;
  SeededStream stream(seed);
  for (int32_t c = 0; c <= max_label; ++c) {
    std::vector<int64_t> rows;
    for (size_t i = 0; i < labels.size(); ++i)
      if (labels[i] == c) rows.push_back(static_cast<int64_t>(i));
    for (size_t i = rows.size(); i > 1; --i) std::swap(rows[i - 1], rows[stream.below(i)]);
    const auto n = static_cast<int64_t>(rows.size());
    int64_t n_val = static_cast<int64_t>(std::llround(fraction * static_cast<double>(n)));
    if (n >= 2)
      n_val = std::clamp<int64_t>(n_val, 1, n - 1);
    else
      n_val = 0;
    for (int64_t i = 0; i < n; ++i) (i < n_val ? validation : train).push_back(rows[static_cast<size_t>(i)]);
  }
  std::sort(train.begin(), train.end());
  std::sort(validation.begin(), validation.end());
  return {train, validation};
}

LogisticModel fit_logistic_regression(const LabeledFeatures& train, int classes, double l2,
                                      const LogisticRegressionOptions& options) {
  check_features(train, classes, "logistic regression (training rows)");
  RSD_CHECK(classes >= 2, "logistic regression: needs at least 2 classes, got ", classes);
  RSD_CHECK(l2 >= 0 && std::isfinite(l2), "logistic regression: the L2 strength must be >= 0, got ", l2);
  RSD_CHECK(options.steps > 0, "logistic regression: steps must be positive, got ", options.steps);
  LogisticModel model;
  model.classes = classes;
  model.dim = train.dim;
  standardization(train, &model.mean, &model.inv_std);
  const std::vector<float> z = standardized(model, train);
  PenalizedCrossEntropy objective(z, train, classes, l2);
  std::vector<double> x(static_cast<size_t>(objective.size()), 0.0);
  LbfgsOptions lo;
  lo.max_iterations = options.steps;
  const LbfgsResult fit = minimize_lbfgs(
      [&](const std::vector<double>& at, std::vector<double>& g) { return objective(at, g); }, x, lo);
  model.iterations = fit.iterations;
  model.converged = fit.converged;
  model.final_loss = objective.cross_entropy(x);
  RSD_CHECK(std::isfinite(model.final_loss), "logistic regression: the training loss is not finite (L2 ", l2, ")");
  const size_t nw = static_cast<size_t>(classes * train.dim);
  model.weight.assign(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(nw));
  model.bias.assign(x.begin() + static_cast<std::ptrdiff_t>(nw), x.end());
  return model;
}

std::vector<float> logistic_scores(const LogisticModel& model, const LabeledFeatures& f) {
  const std::vector<float> z = standardized(model, f);
  std::vector<float> scores(static_cast<size_t>(f.rows * model.classes));
  for (int64_t i = 0; i < f.rows; ++i)
    for (int k = 0; k < model.classes; ++k) {
      double acc = model.bias[static_cast<size_t>(k)];
      for (int64_t j = 0; j < f.dim; ++j)
        acc += static_cast<double>(model.weight[static_cast<size_t>(k * f.dim + j)]) *
               z[static_cast<size_t>(i * f.dim + j)];
      scores[static_cast<size_t>(i * model.classes + k)] = static_cast<float>(acc);
    }
  return scores;
}

std::vector<int32_t> logistic_predict(const LogisticModel& model, const LabeledFeatures& f) {
  const std::vector<float> scores = logistic_scores(model, f);
  std::vector<int32_t> out(static_cast<size_t>(f.rows));
  for (int64_t i = 0; i < f.rows; ++i) {
    const float* row = scores.data() + i * model.classes;
    out[static_cast<size_t>(i)] = static_cast<int32_t>(std::max_element(row, row + model.classes) - row);
  }
  return out;
}

LogisticRegressionFit fit_logistic_regression_cv(const LabeledFeatures& train, int classes,
                                                 const LogisticRegressionOptions& options) {
  check_features(train, classes, "logistic regression (training rows)");
  RSD_CHECK(!options.l2_grid.empty(), "logistic regression: the L2 grid is empty");
  const auto [fit_rows, val_rows] = stratified_split(train.y, options.validation_fraction, options.seed);
  RSD_CHECK(!fit_rows.empty() && !val_rows.empty(), "logistic regression: ", train.rows,
            " training rows are too few to carve a validation split (each class needs two rows)");
  const LabeledFeatures fit_set = select_rows(train, fit_rows), val_set = select_rows(train, val_rows);
  LogisticRegressionFit out;
  out.train_rows = static_cast<int64_t>(fit_rows.size());
  out.validation_rows = static_cast<int64_t>(val_rows.size());
  const L2Score* best = nullptr;
  for (double l2 : options.l2_grid) {
    const LogisticModel m = fit_logistic_regression(fit_set, classes, l2, options);
    const ClassificationMetrics metrics =
        compute_metrics(ConfusionMatrix::from_predictions(classes, val_set.y, logistic_predict(m, val_set)));
    out.scores.push_back({l2, metrics.macro_f1, metrics.accuracy});
  }
  for (const L2Score& s : out.scores) {
    const bool better = best == nullptr || s.validation_macro_f1 > best->validation_macro_f1 ||
                        (s.validation_macro_f1 == best->validation_macro_f1 &&
                         (s.validation_accuracy > best->validation_accuracy ||
                          (s.validation_accuracy == best->validation_accuracy && s.l2 > best->l2)));
    if (better) best = &s;
  }
  out.chosen_l2 = best->l2;
  out.model = fit_logistic_regression(train, classes, out.chosen_l2, options);
  return out;
}

}  // namespace rsd::downstream
