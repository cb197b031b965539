// Classification metrics against confusion matrices worked out by hand, and the confusion-matrix
// heat map.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "engine/error.h"
#include "models/downstream/classification_metrics.h"
#include "models/downstream/confusion_plot.h"

using namespace rsd;
using namespace rsd::downstream;
namespace fs = std::filesystem;

namespace {

// rows: truth, columns: prediction
ConfusionMatrix matrix(const std::vector<std::vector<int64_t>>& rows) {
  ConfusionMatrix cm(static_cast<int>(rows.size()));
  for (size_t t = 0; t < rows.size(); ++t)
    for (size_t p = 0; p < rows[t].size(); ++p) cm.add(static_cast<int>(t), static_cast<int>(p), rows[t][p]);
  return cm;
}

}  // namespace

TEST_SUITE("downstream") {
  TEST_CASE("metrics of a 3-class confusion matrix equal the hand computation") {
    // 0: [5 1 0], 1: [2 3 1], 2: [0 0 4]; column sums 7 4 5; 12 of 16 correct.
    const ConfusionMatrix cm = matrix({{5, 1, 0}, {2, 3, 1}, {0, 0, 4}});
    const ClassificationMetrics m = compute_metrics(cm);
    CHECK(m.accuracy == doctest::Approx(12.0 / 16.0));
    CHECK(m.precision[0] == doctest::Approx(5.0 / 7.0));
    CHECK(m.recall[0] == doctest::Approx(5.0 / 6.0));
    CHECK(m.precision[1] == doctest::Approx(3.0 / 4.0));
    CHECK(m.recall[1] == doctest::Approx(3.0 / 6.0));
    CHECK(m.precision[2] == doctest::Approx(4.0 / 5.0));
    CHECK(m.recall[2] == doctest::Approx(1.0));
    // F1 = 2 TP / (2 TP + FP + FN)
    CHECK(m.f1[0] == doctest::Approx(10.0 / 13.0));
    CHECK(m.f1[1] == doctest::Approx(6.0 / 10.0));
    CHECK(m.f1[2] == doctest::Approx(8.0 / 9.0));
    CHECK(m.macro_f1 == doctest::Approx((10.0 / 13.0 + 0.6 + 8.0 / 9.0) / 3.0));
    CHECK(m.support == std::vector<int64_t>{6, 6, 4});
    CHECK(m.supported_classes == 3);
  }

  TEST_CASE("a class without support is left out of macro-F1; a class never predicted has precision 0") {
    // 0: [2 0 1], 1: [0 2 0], 2: [0 0 0]: class 2 has no support but one false positive.
    const ClassificationMetrics m = compute_metrics(matrix({{2, 0, 1}, {0, 2, 0}, {0, 0, 0}}));
    CHECK(m.accuracy == doctest::Approx(0.8));
    CHECK(m.f1[0] == doctest::Approx(0.8));
    CHECK(m.f1[1] == doctest::Approx(1.0));
    CHECK(m.f1[2] == 0.0);
    CHECK(m.supported_classes == 2);
    CHECK(m.macro_f1 == doctest::Approx(0.9));
    // 0: [1 1], 1: [0 0] -> class 1 is never predicted correctly: precision 0, F1 0.
    const ClassificationMetrics n = compute_metrics(matrix({{0, 2}, {1, 0}}));
    CHECK(n.accuracy == 0.0);
    CHECK(n.precision[0] == 0.0);
    CHECK(n.f1[1] == 0.0);
    CHECK(n.macro_f1 == 0.0);
  }

  TEST_CASE("from_predictions counts pairs and rejects bad indices") {
    const ConfusionMatrix cm = ConfusionMatrix::from_predictions(3, {0, 0, 1, 2, 2}, {0, 1, 1, 2, 0});
    CHECK(cm.at(0, 0) == 1);
    CHECK(cm.at(0, 1) == 1);
    CHECK(cm.at(1, 1) == 1);
    CHECK(cm.at(2, 2) == 1);
    CHECK(cm.at(2, 0) == 1);
    CHECK(cm.total() == 5);
    CHECK_THROWS_AS(ConfusionMatrix::from_predictions(3, {0, 3}, {0, 1}), Error);
    CHECK_THROWS_AS(ConfusionMatrix::from_predictions(3, {0}, {0, 1}), Error);
    CHECK_THROWS_AS(ConfusionMatrix(0), Error);
  }

  TEST_CASE("the text table names the classes and shows the matrix") {
    const ConfusionMatrix cm = matrix({{5, 1}, {2, 3}});
    const std::string t = metrics_table(compute_metrics(cm), cm, {"Forest", "River"});
    CHECK(t.find("Forest") != std::string::npos);
    CHECK(t.find("River") != std::string::npos);
    CHECK(t.find("accuracy 0.7273") != std::string::npos);
    CHECK_THROWS_AS(metrics_table(compute_metrics(cm), cm, {"one"}), Error);
  }

  TEST_CASE("the confusion heat map shades cells by row fraction and writes a PNG") {
    CHECK(confusion_cell_colour(0.0) == 0xFFFFFFu);
    CHECK(confusion_cell_colour(1.0) == 0x08306Bu);
    const ConfusionMatrix cm = matrix({{4, 0}, {1, 3}});
    const plot::Canvas c = draw_confusion_matrix(cm, {"AnnualCrop", "SeaLake"}, "test");
    int darkest = 0;
    for (int y = 0; y < c.height(); ++y)
      for (int x = 0; x < c.width(); ++x) darkest += c.pixel(x, y) == 0x08306Bu ? 1 : 0;
    CHECK(darkest > 30 * 30 / 2);  // the (0, 0) cell: all of class 0 (its count drawn in white)
    const fs::path path = fs::temp_directory_path() / str_cat("rsd_confusion_", ::getpid(), ".png");
    write_confusion_png(path.string(), cm, {"AnnualCrop", "SeaLake"}, "test");
    std::ifstream in(path, std::ios::binary);
    char sig[8] = {};
    in.read(sig, 8);
    CHECK(std::string(sig + 1, 3) == "PNG");
    fs::remove(path);
  }
}
