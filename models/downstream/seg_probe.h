// `rsd eval seg`: a linear segmentation probe on frozen features. The encoder's feature map
// (N, h, w, D) (stride 8 or 32) is upsampled bilinearly to pixels (half-pixel centres, edges
// clamped) and a 1x1 convolution (= a linear layer per pixel) classifies each pixel. It is trained
// as multinomial logistic regression (logistic_regression.h, L2 chosen on a validation split) on a
// seeded sample of the training pixels and evaluated on every labelled test pixel: per-class IoU
// and mIoU.
//
// Data: any layout whose samples carry a label map (Sen1Floods11: 1 water, 0 not water, -1
// ignored; TerraMesh's LULC map). The shipped samples are few scenes, so each scene is cut into
// non-overlapping tiles (the remainder at the right and bottom edges is left out) and the tiles are
// split in a checkerboard: (row + column) even -> train, odd -> test. Neighbouring tiles are
// correlated; the split measures fit, not transfer to new places, and the report says so.
//
// Classes: the distinct label values found in valid label pixels, sorted. IoU_k = TP / (TP + FP +
// FN); mIoU averages the classes present in the test labels (a class absent there is left out).
// Baselines through the same head: the encoder randomly initialized, and the pixel's own
// normalized band values ("band-values").
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/downstream/logistic_regression.h"

namespace rsd::downstream {

struct SegOptions {
  std::string checkpoint;
  std::string data;                // a folder of scenes with label maps
  std::string encoder;             // "" = the method's default
  std::vector<std::string> bands;  // RS-BYOL: the band(s) the encoder reads
  std::string device = "cpu";
  std::string out_dir;  // "" = print only; else results.json and report.txt
  int64_t tile = 64;    // tile side in pixels
  int64_t max_train_pixels = 20000;
  uint64_t seed = 0;  // the training-pixel sample
  uint64_t random_init_seed = 1;
  // Fewer iterations than the classification probes: up to max_train_pixels rows per fit.
  LogisticRegressionOptions logistic{{1e-4, 1e-3, 1e-2, 1e-1, 1.0}, 0.2, 0, 300};
  bool quiet = false;
};

struct SegResult {
  std::string features;  // "pretrained", "random-init", "band-values"
  int64_t dim = 0;
  std::vector<double> iou;  // per class; -1 where the class is absent from the test labels
  double miou = 0;
  double pixel_accuracy = 0;
  int64_t train_pixels = 0, test_pixels = 0;
  double chosen_l2 = 0;
};

struct SegReport {
  std::string model_id;
  std::string data_description;       // scenes, tiles and the split
  std::vector<int32_t> class_values;  // the label value of each class index
  std::vector<SegResult> results;
  std::string text;
};

SegReport run_segmentation_probe(const SegOptions& options);

// Bilinear upsampling of one feature map to pixels: map (h, w, D) at `stride` -> (H, W, D), the
// pixel (y, x) reading the map at ((y + 0.5) / stride - 0.5, (x + 0.5) / stride - 0.5), clamped.
std::vector<float> upsample_bilinear(const std::vector<float>& map, int64_t h, int64_t w, int64_t dim, int64_t stride,
                                     int64_t height, int64_t width);

}  // namespace rsd::downstream
