#include "models/downstream/linear_probe.h"

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/atomic_file.h"
#include "engine/error.h"
#include "models/downstream/confusion_plot.h"
#include "models/downstream/knn_probe.h"
#include "models/downstream/pretrained_encoder.h"
#include "models/downstream/probe_data.h"

namespace rsd::downstream {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string fixed(double v, int digits = 4) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string column(const std::string& s, size_t width) {
  return s.size() >= width ? s + " " : s + std::string(width - s.size(), ' ');
}

// Fits the head on `train`, evaluates on `test`.
ProbeResult probe(const LabeledFeatures& train, const LabeledFeatures& test, int classes, ProbeHead head,
                  const ProbeOptions& options, std::string features, std::string band) {
  ProbeResult r;
  r.features = std::move(features);
  r.band = std::move(band);
  r.dim = train.dim;
  std::vector<int32_t> predicted;
  if (head == ProbeHead::logistic) {
    const LogisticRegressionFit fit = fit_logistic_regression_cv(train, classes, options.logistic);
    r.chosen_l2 = fit.chosen_l2;
    r.l2_scores = fit.scores;
    predicted = logistic_predict(fit.model, test);
  } else {
    predicted = knn_predict(train, test, classes, options.knn_k);
  }
  r.confusion = ConfusionMatrix::from_predictions(classes, test.y, predicted);
  r.metrics = compute_metrics(r.confusion);
  return r;
}

// The three probes (pretrained, random-init, band statistics) for one encoder.
void probe_encoder(const PretrainedEncoder& encoder, const ClassificationChips& chips, ProbeHead head,
                   const ProbeOptions& options, const std::string& band, std::vector<ProbeResult>* out) {
  const int classes = static_cast<int>(chips.classes.size());
  const PretrainedEncoder random = random_like(encoder, options.random_init_seed);
  const PretrainedEncoder* encoders[] = {&encoder, &random};
  const char* names[] = {"pretrained", "random-init"};
  for (int e = 0; e < 2; ++e) {
    const LabeledFeatures train = encoder_features(*encoders[e], chips.train, chips.train_labels, options.batch);
    const LabeledFeatures test = encoder_features(*encoders[e], chips.test, chips.test_labels, options.batch);
    out->push_back(probe(train, test, classes, head, options, names[e], band));
  }
  const LabeledFeatures train =
      band_statistics_features(encoder.bands, encoder.statistics, chips.train, chips.train_labels);
  const LabeledFeatures test =
      band_statistics_features(encoder.bands, encoder.statistics, chips.test, chips.test_labels);
  out->push_back(probe(train, test, classes, head, options, "band-statistics", band));
}

PretrainedEncoder load_single_band(const ProbeOptions& options, const std::string& band, Device device) {
  try {
    PretrainedEncoder e = load_pretrained_encoder(options.checkpoint, options.encoder, {band}, device);
    RSD_CHECK(e.bands.size() == 1, "");
    return e;
  } catch (const Error& err) {
    fail(options.checkpoint, ": --per-band needs a single-channel encoder (RS-BYOL pretrained on single-band views) ",
         "that reads any band; this one cannot read ", band, " alone: ", err.what());
  }
}

std::string summary_table(const ProbeReport& report, ProbeHead head) {
  std::ostringstream out;
  out << column("features", 18) << column("band", 6) << column("dim", 6) << column("accuracy", 10)
      << column("macro-F1", 10) << (head == ProbeHead::logistic ? "L2" : "") << "\n";
  for (const ProbeResult& r : report.results) {
    out << column(r.features, 18) << column(r.band.empty() ? "all" : r.band, 6) << column(std::to_string(r.dim), 6)
        << column(fixed(r.metrics.accuracy), 10) << column(fixed(r.metrics.macro_f1), 10)
        << (head == ProbeHead::logistic ? fixed(r.chosen_l2, 5) : "") << "\n";
  }
  return out.str();
}

// Per-band mode: rows are bands, columns the three feature kinds (macro-F1).
std::string band_table(const ProbeReport& report) {
  std::ostringstream out;
  out << "macro-F1 by band (each band alone through the encoder)\n"
      << column("band", 6) << column("pretrained", 12) << column("random-init", 13) << "band-statistics\n";
  for (size_t i = 0; i + 2 < report.results.size(); i += 3) {
    out << column(report.results[i].band, 6) << column(fixed(report.results[i].metrics.macro_f1), 12)
        << column(fixed(report.results[i + 1].metrics.macro_f1), 13) << fixed(report.results[i + 2].metrics.macro_f1)
        << "\n";
  }
  return out.str();
}

json result_json(const ProbeResult& r) {
  json confusion = json::array();
  for (int t = 0; t < r.confusion.classes(); ++t) {
    json row = json::array();
    for (int p = 0; p < r.confusion.classes(); ++p) row.push_back(r.confusion.at(t, p));
    confusion.push_back(row);
  }
  json j = {{"features", r.features},
            {"band", r.band},
            {"dim", r.dim},
            {"accuracy", r.metrics.accuracy},
            {"macro_f1", r.metrics.macro_f1},
            {"precision", r.metrics.precision},
            {"recall", r.metrics.recall},
            {"f1", r.metrics.f1},
            {"support", r.metrics.support},
            {"confusion", confusion}};
  if (r.chosen_l2 >= 0) {
    j["chosen_l2"] = r.chosen_l2;
    json scores = json::array();
    for (const L2Score& s : r.l2_scores)
      scores.push_back({{"l2", s.l2},
                        {"validation_macro_f1", s.validation_macro_f1},
                        {"validation_accuracy", s.validation_accuracy}});
    j["l2_scores"] = scores;
  }
  return j;
}

void write_outputs(const ProbeReport& report, const ProbeOptions& options) {
  std::error_code made;
  fs::create_directories(options.out_dir, made);
  RSD_CHECK(!made, "rsd eval --out ", options.out_dir, ": cannot make the folder: ", made.message());
  json results = json::array();
  for (const ProbeResult& r : report.results) {
    results.push_back(result_json(r));
    const std::string stem = "confusion_" + r.features + (r.band.empty() ? "" : "_" + r.band);
    write_confusion_png((fs::path(options.out_dir) / (stem + ".png")).string(), r.confusion, report.classes,
                        str_cat(r.features, r.band.empty() ? "" : " " + r.band, ": acc ", fixed(r.metrics.accuracy, 3),
                                " macro-F1 ", fixed(r.metrics.macro_f1, 3)));
  }
  const json doc = {{"head", report.head},
                    {"model_id", report.model_id},
                    {"checkpoint", options.checkpoint},
                    {"data", options.data},
                    {"data_description", report.data_description},
                    {"per_band", options.per_band},
                    {"bands", report.bands},
                    {"classes", report.classes},
                    {"results", results}};
  write_file_atomically((fs::path(options.out_dir) / "results.json").string(), doc.dump(2) + "\n");
  write_file_atomically((fs::path(options.out_dir) / "report.txt").string(), report.text);
}

}  // namespace

ProbeReport run_classification_probe(const ProbeOptions& options, ProbeHead head) {
  RSD_CHECK(!options.checkpoint.empty(), "eval: --checkpoint is required");
  RSD_CHECK(!options.data.empty(), "eval: --data is required");
  const Device device = parse_device(options.device);
  // The output folder before anything is loaded: a probe takes minutes, its results must have a place.
  if (!options.out_dir.empty()) check_eval_outputs(options.out_dir, options.checkpoint, options.data);
  ProbeReport report;
  report.head = head == ProbeHead::logistic ? "logistic regression" : str_cat("k-NN (k = ", options.knn_k, ", cosine)");
  // The checkpoint is read first, so a bad one fails before the chips are loaded.
  std::unique_ptr<PretrainedEncoder> encoder;
  if (!options.per_band)
    encoder = std::make_unique<PretrainedEncoder>(
        load_pretrained_encoder(options.checkpoint, options.encoder, options.bands, device));
  else if (!options.bands.empty())
    load_single_band(options, options.bands.front(), device);
  const ClassificationChips chips = load_classification_chips(options.data, options.quiet);
  report.classes = chips.classes;
  report.data_description = chips.description;
  RSD_CHECK(chips.classes.size() >= 2, options.data, ": the probes need at least 2 classes, found ",
            chips.classes.size());
  if (encoder) {
    report.model_id = encoder->model_id;
    report.bands = encoder->bands;
    probe_encoder(*encoder, chips, head, options, "", &report.results);
  } else {
    report.bands = options.bands.empty() ? chips.bands : options.bands;
    for (const std::string& band : report.bands) {
      const PretrainedEncoder single = load_single_band(options, band, device);
      report.model_id = single.model_id;
      if (!options.quiet) std::cout << "probing band " << band << "\n" << std::flush;
      probe_encoder(single, chips, head, options, band, &report.results);
    }
  }
  std::ostringstream text;
  text << "probe (" << report.head << ") of " << report.model_id << "\n" << report.data_description << "\n";
  std::string bands;
  for (const std::string& b : report.bands) bands += (bands.empty() ? "" : " ") + b;
  text << (options.per_band ? "bands probed: " : "encoder bands: ") << bands << "\n";
  text << "baselines: random-init = the same encoder with random weights; band-statistics = mean and std of "
          "each band of the normalized chip; same head\n\n";
  text << summary_table(report, head);
  if (options.per_band) text << "\n" << band_table(report);
  const std::string summary = text.str();
  for (const ProbeResult& r : report.results) {
    text << "\n== " << r.features << (r.band.empty() ? "" : " " + r.band) << " ==\n"
         << metrics_table(r.metrics, r.confusion, report.classes);
  }
  report.text = text.str();
  if (!options.out_dir.empty()) write_outputs(report, options);
  if (!options.quiet) {
    // The pretrained probe's full tables on the console (all of them in report.txt).
    std::cout << summary;
    if (!options.per_band)
      std::cout << "\n" << metrics_table(report.results[0].metrics, report.results[0].confusion, report.classes);
    if (!options.out_dir.empty()) std::cout << "wrote " << options.out_dir << "/results.json, report.txt and PNGs\n";
  }
  return report;
}

}  // namespace rsd::downstream
