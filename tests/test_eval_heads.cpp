// The probes' heads: logistic regression (engine-trained, L2 from a validation split) and cosine
// k-NN, on synthetic features whose answers are known.
#include <doctest/doctest.h>

#include <cmath>
#include <set>

#include "engine/error.h"
#include "engine/rng.h"
#include "models/downstream/classification_metrics.h"
#include "models/downstream/knn_probe.h"
#include "models/downstream/lbfgs.h"
#include "models/downstream/logistic_regression.h"

using namespace rsd;
using namespace rsd::downstream;

namespace {

// `per_class` rows of each of `classes` Gaussian blobs in `dim` dimensions, centres 6 apart on
// distinct axes (linearly separable with a wide margin), unit noise scaled by `noise`.
LabeledFeatures blobs(int classes, int per_class, int64_t dim, double noise, uint64_t seed) {
  LabeledFeatures f;
  f.dim = dim;
  uint64_t state = seed * 2654435761ULL + 1;
  auto uniform = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (static_cast<double>(state >> 11) + 0.5) / 9007199254740992.0;
  };
  for (int c = 0; c < classes; ++c)
    for (int i = 0; i < per_class; ++i) {
      for (int64_t j = 0; j < dim; ++j) {
        const double gauss = std::sqrt(-2 * std::log(uniform())) * std::cos(6.283185307179586 * uniform());
        f.x.push_back(static_cast<float>((j == c ? 6.0 : 0.0) + noise * gauss + 3.0));
      }
      f.y.push_back(c);
      ++f.rows;
    }
  return f;
}

double accuracy(const std::vector<int32_t>& truth, const std::vector<int32_t>& predicted, int classes) {
  return compute_metrics(ConfusionMatrix::from_predictions(classes, truth, predicted)).accuracy;
}

}  // namespace

TEST_SUITE("downstream") {
  TEST_CASE("logistic regression separates separable blobs perfectly and reports its L2") {
    const LabeledFeatures train = blobs(4, 20, 6, 0.7, 1), test = blobs(4, 10, 6, 0.7, 2);
    const LogisticRegressionFit fit = fit_logistic_regression_cv(train, 4);
    MESSAGE("chosen L2 ", fit.chosen_l2, ", final training loss ", fit.model.final_loss);
    CHECK(fit.scores.size() == 5);
    CHECK(fit.train_rows + fit.validation_rows == 80);
    CHECK(fit.validation_rows == 16);  // 20 % of 20 per class
    bool in_grid = false;
    for (const L2Score& s : fit.scores) in_grid = in_grid || s.l2 == fit.chosen_l2;
    CHECK(in_grid);
    CHECK(accuracy(train.y, logistic_predict(fit.model, train), 4) == 1.0);
    CHECK(accuracy(test.y, logistic_predict(fit.model, test), 4) == 1.0);
    // Every grid value is perfect on validation here, so the tie goes to the strongest L2; a weak
    // L2 drives the training loss down.
    CHECK(fit.chosen_l2 == 1.0);
    CHECK(fit_logistic_regression(train, 4, 1e-4).final_loss < 0.05);
  }

  TEST_CASE("logistic regression is deterministic and a strong L2 shrinks the weights") {
    const LabeledFeatures train = blobs(3, 10, 4, 1.0, 5);
    const LogisticModel a = fit_logistic_regression(train, 3, 0.01), b = fit_logistic_regression(train, 3, 0.01);
    CHECK(a.weight == b.weight);
    CHECK(a.bias == b.bias);
    const LogisticModel strong = fit_logistic_regression(train, 3, 10.0);
    double na = 0, ns = 0;
    for (size_t i = 0; i < a.weight.size(); ++i) {
      na += a.weight[i] * a.weight[i];
      ns += strong.weight[i] * strong.weight[i];
    }
    CHECK(ns < 0.1 * na);
  }

  TEST_CASE("L-BFGS finds the minimum of a quadratic and of Rosenbrock's function") {
    // f = sum_i (i + 1) (x_i - i)^2 / 2: minimum at x_i = i.
    std::vector<double> x(20, 0.0);
    LbfgsResult r = minimize_lbfgs(
        [](const std::vector<double>& at, std::vector<double>& g) {
          double f = 0;
          for (size_t i = 0; i < at.size(); ++i) {
            const double d = at[i] - static_cast<double>(i);
            f += 0.5 * static_cast<double>(i + 1) * d * d;
            g[i] = static_cast<double>(i + 1) * d;
          }
          return f;
        },
        x);
    CHECK(r.converged);
    for (size_t i = 0; i < x.size(); ++i) CHECK(x[i] == doctest::Approx(static_cast<double>(i)).epsilon(1e-6));
    std::vector<double> y{-1.2, 1.0};
    r = minimize_lbfgs(
        [](const std::vector<double>& at, std::vector<double>& g) {
          const double a = 1 - at[0], b = at[1] - at[0] * at[0];
          g[0] = -2 * a - 400 * at[0] * b;
          g[1] = 200 * b;
          return a * a + 100 * b * b;
        },
        y, LbfgsOptions{2000, 10, 1e-10, 0});
    MESSAGE("Rosenbrock: ", r.iterations, " iterations, ", r.evaluations, " evaluations");
    CHECK(y[0] == doctest::Approx(1.0).epsilon(1e-6));
    CHECK(y[1] == doctest::Approx(1.0).epsilon(1e-6));
  }

  TEST_CASE("logistic regression stops at the optimum: the penalized gradient, computed by hand, vanishes") {
    const LabeledFeatures train = blobs(3, 12, 5, 2.5, 9);  // overlapping blobs: an interior optimum
    const double l2 = 1e-3;
    const LogisticModel m = fit_logistic_regression(train, 3, l2);
    CHECK(m.converged);
    const std::vector<float> scores = logistic_scores(m, train);
    std::vector<double> gw(m.weight.size(), 0.0), gb(3, 0.0);
    for (int64_t i = 0; i < train.rows; ++i) {
      double mx = -1e300, total = 0;
      for (int k = 0; k < 3; ++k) mx = std::max(mx, static_cast<double>(scores[static_cast<size_t>(i * 3 + k)]));
      std::vector<double> p(3);
      for (int k = 0; k < 3; ++k) total += p[k] = std::exp(scores[static_cast<size_t>(i * 3 + k)] - mx);
      for (int k = 0; k < 3; ++k) {
        const double r = p[k] / total - (train.y[static_cast<size_t>(i)] == k ? 1.0 : 0.0);
        gb[k] += r / static_cast<double>(train.rows);
        for (int64_t j = 0; j < train.dim; ++j) {
          const double z = (train.row(i)[j] - m.mean[static_cast<size_t>(j)]) * m.inv_std[static_cast<size_t>(j)];
          gw[static_cast<size_t>(k * train.dim + j)] += r * z / static_cast<double>(train.rows);
        }
      }
    }
    double worst = 0;
    for (size_t i = 0; i < gw.size(); ++i) worst = std::max(worst, std::abs(gw[i] + l2 * m.weight[i]));
    for (double g : gb) worst = std::max(worst, std::abs(g));
    MESSAGE("largest penalized gradient component at the fit: ", worst, " after ", m.iterations, " iterations");
    CHECK(worst < 1e-4);  // the model is stored in f32: 1e-4 is its rounding, not the solver's
  }

  TEST_CASE("the stratified split is seeded, disjoint, and keeps every class on both sides") {
    std::vector<int32_t> labels;
    for (int i = 0; i < 50; ++i) labels.push_back(i % 5);
    const auto [train, val] = stratified_split(labels, 0.2, 7);
    CHECK(train.size() == 40);
    CHECK(val.size() == 10);
    std::set<int64_t> all(train.begin(), train.end());
    all.insert(val.begin(), val.end());
    CHECK(all.size() == 50);
    std::set<int32_t> val_classes;
    for (int64_t i : val) val_classes.insert(labels[static_cast<size_t>(i)]);
    CHECK(val_classes.size() == 5);
    CHECK(stratified_split(labels, 0.2, 7).second == val);
    CHECK(stratified_split(labels, 0.2, 8).second != val);
  }

  TEST_CASE("logistic regression rejects bad input with clear errors") {
    LabeledFeatures f = blobs(2, 3, 2, 1.0, 1);
    CHECK_THROWS_AS(fit_logistic_regression(f, 1, 0.1), Error);
    f.y[0] = 7;
    CHECK_THROWS_AS(fit_logistic_regression(f, 2, 0.1), Error);
    f.y[0] = 0;
    f.x[0] = std::nanf("");
    CHECK_THROWS_AS(fit_logistic_regression(f, 2, 0.1), Error);
    LabeledFeatures tiny = blobs(2, 1, 2, 1.0, 1);  // one row per class: nothing to validate on
    CHECK_THROWS_AS(fit_logistic_regression_cv(tiny, 2), Error);
  }

  TEST_CASE("cosine k-NN: nearest by angle, ties in votes go to the larger summed similarity") {
    LabeledFeatures train;
    train.dim = 2;
    train.rows = 2;
    train.x = {1, 0, 0, 1};  // class 0 along x, class 1 along y
    train.y = {0, 1};
    LabeledFeatures test;
    test.dim = 2;
    test.rows = 3;
    test.x = {0.6f, 0.8f, 8.0f, 6.0f, 0, 0};  // scale does not matter; a zero row ties at 0
    test.y = {1, 0, 0};
    CHECK(knn_predict(train, test, 2, 1) == std::vector<int32_t>{1, 0, 0});
    // k = 2: one vote each; the summed similarity decides (0.8 vs 0.6); the zero row: class 0.
    CHECK(knn_predict(train, test, 2, 2) == std::vector<int32_t>{1, 0, 0});
    CHECK_THROWS_AS(knn_predict(train, test, 2, 3), Error);
    CHECK_THROWS_AS(knn_predict(train, test, 2, 0), Error);
  }

  TEST_CASE("cosine k-NN classifies separable blobs") {
    const LabeledFeatures train = blobs(3, 15, 5, 0.5, 3), test = blobs(3, 5, 5, 0.5, 4);
    CHECK(accuracy(test.y, knn_predict(train, test, 3, 5), 3) == 1.0);
  }
}
