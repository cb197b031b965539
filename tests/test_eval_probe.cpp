// `rsd eval linear | knn` end to end on the shipped EuroSAT-MS subset (read with GDAL): a tiny
// pretraining run gives the checkpoint; the probes write their results, tables and PNGs, with the
// random-init and band-statistics baselines beside the pretrained encoder.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "models/downstream/linear_probe.h"
#include "models/pretrain/config.h"
#include "models/pretrain/trainer.h"
#include "tests/support/test_paths.h"

using namespace rsd;
using namespace rsd::test;
namespace fs = std::filesystem;

namespace {

fs::path eurosat() { return samples_dir() / "eurosat-ms-subset"; }

// A 2-step pretraining run of `method` on EuroSAT (resnet18, width 8, small-patch stem); returns
// the checkpoint file.
fs::path tiny_checkpoint(const std::string& method, const std::string& extra, const fs::path& out) {
  const std::string text = str_cat(
      "method = \"", method, "\"\nseed = 3\ndevice = \"cpu\"\n", extra, "[data]\npath = \"", eurosat().string(),
      "\"\npatch_size = 16\nworkers = 2\n",
      "[model]\narch = \"resnet18\"\nstem = \"small-patch\"\nwidth = 8\nprojector_hidden = 32\nprojector_out = 16\n"
      "predictor_hidden = 32\n",
      "[train]\nbatch_size = 4\nsteps = 2\noptimizer = \"lars\"\nlr = 0.3\nwarmup_fraction = 0.5\n",
      "[log]\nout_dir = \"", out.string(), "\"\nevery = 1\nprogress = false\n",
      "[checkpoint]\nevery = 2\nkeep_last = 1\n");
  pretrain::PretrainRunOptions quiet;
  quiet.quiet = true;
  return pretrain::run_pretrain(pretrain::parse_pretrain_config(text, "<test_eval_probe>"), quiet).checkpoint;
}

void check_result(const downstream::ProbeResult& r, int64_t test_rows) {
  CAPTURE(r.features);
  CAPTURE(r.band);
  CHECK(r.confusion.total() == test_rows);
  CHECK(r.metrics.accuracy >= 0.0);
  CHECK(r.metrics.accuracy <= 1.0);
  CHECK(r.metrics.macro_f1 >= 0.0);
  CHECK(r.metrics.macro_f1 <= 1.0);
  CHECK(r.metrics.f1.size() == 10);
}

}  // namespace

TEST_SUITE("downstream") {
  TEST_CASE("eval linear and knn on EuroSAT: pretrained, random-init and band-statistics probes" *
            doctest::skip(kNoGdal)) {
    TempDir dir;
    const fs::path run = tiny_checkpoint("simclr", "", dir.path() / "run");
    downstream::ProbeOptions o;
    o.checkpoint = run.string();
    o.data = eurosat().string();
    o.out_dir = (dir.path() / "linear").string();
    o.quiet = true;
    o.logistic.steps = 200;
    const downstream::ProbeReport linear = downstream::run_classification_probe(o, downstream::ProbeHead::logistic);
    REQUIRE(linear.results.size() == 3);
    CHECK(linear.results[0].features == "pretrained");
    CHECK(linear.results[1].features == "random-init");
    CHECK(linear.results[2].features == "band-statistics");
    CHECK(linear.results[2].dim == 2 * static_cast<int64_t>(linear.bands.size()));
    CHECK(linear.classes.size() == 10);
    for (const downstream::ProbeResult& r : linear.results) {
      check_result(r, 54);
      CHECK(r.chosen_l2 > 0);
    }
    // Band statistics of 13 bands separate EuroSAT's classes far above chance (0.1).
    CHECK(linear.results[2].metrics.accuracy > 0.4);
    for (const char* f : {"results.json", "report.txt", "confusion_pretrained.png", "confusion_random-init.png",
                          "confusion_band-statistics.png"})
      CHECK(fs::exists(fs::path(o.out_dir) / f));
    std::ifstream in(fs::path(o.out_dir) / "results.json");
    const nlohmann::json j = nlohmann::json::parse(in);
    CHECK(j.at("results").size() == 3);
    CHECK(j.at("results").at(0).at("confusion").size() == 10);
    CHECK(j.at("results").at(0).at("macro_f1").get<double>() == doctest::Approx(linear.results[0].metrics.macro_f1));

    o.out_dir = (dir.path() / "knn").string();
    o.knn_k = 5;
    const downstream::ProbeReport knn = downstream::run_classification_probe(o, downstream::ProbeHead::knn);
    REQUIRE(knn.results.size() == 3);
    for (const downstream::ProbeResult& r : knn.results) check_result(r, 54);
    CHECK(fs::exists(fs::path(o.out_dir) / "results.json"));
  }

  TEST_CASE("eval linear --per-band probes each band alone through a single-channel RS-BYOL encoder" *
            doctest::skip(kNoGdal)) {
    TempDir dir;
    const fs::path run = tiny_checkpoint("byol", "[byol]\nmodality = \"ms\"\n", dir.path() / "run");
    downstream::ProbeOptions o;
    o.checkpoint = run.string();
    o.data = eurosat().string();
    o.per_band = true;
    o.bands = {"B04", "B08"};
    o.quiet = true;
    o.logistic.steps = 100;
    o.logistic.l2_grid = {1e-3, 1e-1};
    const downstream::ProbeReport r = downstream::run_classification_probe(o, downstream::ProbeHead::logistic);
    REQUIRE(r.results.size() == 6);
    CHECK(r.results[0].band == "B04");
    CHECK(r.results[3].band == "B08");
    CHECK(r.results[2].dim == 2);  // one band: its mean and std
    for (const downstream::ProbeResult& p : r.results) check_result(p, 54);
    CHECK(r.text.find("macro-F1 by band") != std::string::npos);

    // A band the data lacks is an error.
    o.bands = {"NOPE"};
    CHECK_THROWS_AS(downstream::run_classification_probe(o, downstream::ProbeHead::logistic), Error);
  }

  TEST_CASE("eval reports a dataset without train/ and test/ splits" * doctest::skip(kNoGdal)) {
    TempDir dir;
    downstream::ProbeOptions o;
    o.checkpoint = (dir.path() / "missing").string();
    o.data = (samples_dir() / "terramind-s1s2").string();
    o.quiet = true;
    CHECK_THROWS_AS(downstream::run_classification_probe(o, downstream::ProbeHead::logistic), Error);
  }
}
