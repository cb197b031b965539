// The probes' heads: logistic regression (engine-trained, L2 from a validation split) and cosine
// k-NN, on synthetic features whose answers are known.
#include <doctest/doctest.h>

#include <cmath>
#include <set>

#include "engine/error.h"
#include "engine/rng.h"
#include "tools/downstream/classification_metrics.h"
#include "tools/downstream/knn_probe.h"
#include "tools/downstream/logistic_regression.h"

using namespace rsd;
using namespace rsd::tools;

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
