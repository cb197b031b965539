// Multinomial logistic regression for linear probes, trained by the engine: a linear layer
// (ops linear) and softmax cross-entropy with an L2 penalty (l2 / 2) ||W||^2 on the weights, not
// the bias, evaluated full batch in float64 and minimized by L-BFGS (models/downstream/lbfgs.h)
// to a gradient below 1e-6: the problem is convex, so the fit is the optimum, with no learning
// rate to tune (plain gradient descent needed thousands of steps and still stopped short at weak
// L2). Features are standardized with the training rows' mean and std. Weights start at zero:
// the fit is a pure function of its inputs.
//
// Model selection (fit_logistic_regression_cv): a stratified, seeded validation split is carved
// from the training rows; each L2 strength of the grid is fitted on the rest and scored by the
// validation macro-F1 (ties: accuracy, then the stronger L2); the chosen one is refitted on all
// training rows.
#pragma once
#include <cstdint>
#include <vector>

#include "models/downstream/labeled_features.h"

namespace rsd::downstream {

struct LogisticRegressionOptions {
  std::vector<double> l2_grid = {1e-4, 1e-3, 1e-2, 1e-1, 1.0};
  double validation_fraction = 0.2;  // of each class, at least one row when the class has two
  uint64_t seed = 0;                 // of the validation split
  int64_t steps = 1000;              // L-BFGS iterations per fit, at most (convergence usually stops it first)
};

struct LogisticModel {
  int classes = 0;
  int64_t dim = 0;
  std::vector<float> mean, inv_std;  // (dim): standardization from the training rows
  std::vector<float> weight;         // (classes, dim)
  std::vector<float> bias;           // (classes)
  double final_loss = 0;             // training cross-entropy (without the penalty) at the end
  int64_t iterations = 0;            // L-BFGS iterations the fit took
  bool converged = false;            // the gradient (or the improvement) fell below the tolerance
};

struct L2Score {
  double l2 = 0;
  double validation_macro_f1 = 0;
  double validation_accuracy = 0;
};

struct LogisticRegressionFit {
  LogisticModel model;
  double chosen_l2 = 0;
  std::vector<L2Score> scores;  // one per grid value, in grid order
  int64_t train_rows = 0, validation_rows = 0;
};

// One fit with a fixed L2 strength on every row of `train`. Labels in [0, classes).
LogisticModel fit_logistic_regression(const LabeledFeatures& train, int classes, double l2,
                                      const LogisticRegressionOptions& options = {});

// L2 chosen on a validation split, then refitted on all of `train`.
LogisticRegressionFit fit_logistic_regression_cv(const LabeledFeatures& train, int classes,
                                                 const LogisticRegressionOptions& options = {});

// Class scores (rows, classes) and the argmax class of each row (ties: the lower index).
std::vector<float> logistic_scores(const LogisticModel& model, const LabeledFeatures& f);
std::vector<int32_t> logistic_predict(const LogisticModel& model, const LabeledFeatures& f);

// Per class, a seeded shuffle of its rows, the first round(fraction * n) (at least 1 when n >= 2,
// never all) to validation. Returns (training indices, validation indices), each sorted.
std::pair<std::vector<int64_t>, std::vector<int64_t>> stratified_split(const std::vector<int32_t>& labels,
                                                                       double fraction, uint64_t seed);

}  // namespace rsd::downstream
