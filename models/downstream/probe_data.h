// The data side of the classification probes: labelled chips of a dataset with train/ and test/
// splits (EuroSAT-MS), the encoder's input made from a chip (its bands picked by name, then
// normalized with the encoder's band statistics), and the two kinds of features the probes read:
// the encoder's pooled features, and the per-band statistics baseline.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/normalization.h"
#include "data/sample.h"
#include "models/downstream/labeled_features.h"
#include "models/downstream/pretrained_encoder.h"

namespace rsd::downstream {

// `rsd eval --out`, checked before the checkpoint or the data is read (engine/output_preflight.h): a
// folder that can be made and written, not inside the dataset folder `data`, whose results.json
// and report.txt are not the checkpoint's files, with a few MiB free.
void check_eval_outputs(const std::string& out_dir, const std::string& checkpoint, const std::string& data);

struct ClassificationChips {
  std::string description;                // the layout's description and the split sizes
  std::vector<std::string> classes;       // sorted class names; labels index them
  std::vector<data::Raster> train, test;  // raw chips: S2 bands, then S1 bands when present
  std::vector<int32_t> train_labels, test_labels;
  std::vector<std::string> bands;  // the bands of the first chip, in order
};

// A sample's S2 bands then its S1 bands, interleaved (H, W, C); S1 and S2 must be the same size.
data::Raster combined_chip(const data::Sample& s);

// Loads every sample of the "train" and "test" splits (other splits are left out) of a
// single-label dataset folder. Errors name the folder: no such split, no labels.
ClassificationChips load_classification_chips(const std::string& path, bool quiet);

// The chip's `bands` (by name, in that order) normalized with `statistics`: (H, W, bands).
// A band the chip lacks is an error naming the chip and the bands it has.
data::Raster encoder_input(const data::Raster& chip, const std::vector<std::string>& bands,
                           const data::BandStatistics& statistics);

// The encoder's pooled features of each chip (normalized as above), run in batches of `batch`
// chips of equal size, on the encoder's device. `labels` are copied into the result.
LabeledFeatures encoder_features(const PretrainedEncoder& encoder, const std::vector<data::Raster>& chips,
                                 const std::vector<int32_t>& labels, int64_t batch);

// The baseline: per band (in `bands` order) the mean and the standard deviation of the chip's
// valid normalized pixels, (rows, 2 * bands) as [mean_0, std_0, mean_1, std_1, ...].
LabeledFeatures band_statistics_features(const std::vector<std::string>& bands, const data::BandStatistics& statistics,
                                         const std::vector<data::Raster>& chips, const std::vector<int32_t>& labels);

}  // namespace rsd::downstream
