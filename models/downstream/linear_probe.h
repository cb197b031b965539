// `rsd eval linear` and `rsd eval knn`: classification probes on frozen features.
//
// The pipeline (shared by both heads): load the train/ and test/ chips of a labelled dataset
// (EuroSAT-MS), take the pretrained encoder's pooled features of the normalized chips, fit the
// head on the training split, report accuracy, macro-F1, per-class F1 and the confusion matrix on
// the test split. Every result comes with two baselines through the same head:
//   random-init      the same encoder architecture with random weights (random_like),
//   band-statistics  mean and std of each input band of the normalized chip.
// Heads: multinomial logistic regression with its L2 chosen on a validation split carved from
// the training split (logistic_regression.h), or cosine k-nearest neighbours (knn_probe.h).
// --per-band (single-channel encoders, RS-BYOL's protocol): every band alone through the encoder,
// one probe (and its baselines) per band, and a table of macro-F1 by band.
//
// Outputs in out_dir (when set): results.json, report.txt (every table), and
// confusion_<features>[_<band>].png per probe.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/downstream/classification_metrics.h"
#include "models/downstream/logistic_regression.h"

namespace rsd::downstream {

enum class ProbeHead { logistic, knn };

struct ProbeOptions {
  std::string checkpoint;          // a checkpoint file or folder
  std::string data;                // a dataset folder with train/ and test/ splits
  std::string encoder;             // "" = the method's default (online, or s2)
  std::vector<std::string> bands;  // RS-BYOL: the band(s) fed to the encoder; --per-band: bands to probe
  std::string device = "cpu";
  std::string out_dir;  // "" = print only
  bool per_band = false;
  int64_t batch = 64;
  uint64_t random_init_seed = 1;
  LogisticRegressionOptions logistic;
  int knn_k = 10;
  bool quiet = false;
};

struct ProbeResult {
  std::string features;  // "pretrained", "random-init", "band-statistics"
  std::string band;      // per-band mode: the band alone; otherwise ""
  int64_t dim = 0;       // feature dimension
  ConfusionMatrix confusion{1};
  ClassificationMetrics metrics;
  double chosen_l2 = -1;  // logistic head only
  std::vector<L2Score> l2_scores;
};

struct ProbeReport {
  std::string head;  // "logistic regression" or "k-NN (k = 10, cosine)"
  std::string model_id;
  std::vector<std::string> bands;  // the encoder's input bands (per-band: the bands probed)
  std::vector<std::string> classes;
  std::string data_description;
  std::vector<ProbeResult> results;
  std::string text;  // what report.txt holds (the summary printed, then every table)
};

ProbeReport run_classification_probe(const ProbeOptions& options, ProbeHead head);

}  // namespace rsd::downstream
