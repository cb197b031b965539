// The data side of `rsd pretrain`: the sample source (shards or a dataset folder), the per-band
// statistics that normalize it, the view recipe of the method and the loader transform that writes
// a sample's views side by side:
//   one loader row = [view 0 (P, P, C0) | view 1 (P, P, C1)] as float32, sample_shape (1, 1, total)
// split_views() cuts a batch (n, 1, 1, total) back into (n, P, P, C_k) tensors on the device.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "data/loader.h"
#include "data/normalization.h"
#include "data/sample_source.h"
#include "data/views.h"
#include "models/pretrain/config.h"

namespace rsd::pretrain {

struct PretrainData {
  std::shared_ptr<const data::SampleSource> source;  // repeated data.repeat times
  int64_t distinct_samples = 0;                      // before repetition
  data::BandStatistics statistics;
  std::string statistics_origin;                     // where the statistics came from, for the log
  data::ViewSpec spec;
  int64_t patch = 0;
  std::vector<int64_t> view_channels;                // C_k of each view
  std::vector<std::vector<std::string>> view_bands;  // bands of each view (empty: drawn per sample)
  std::string description;                           // what was found, for the log
};

// Opens config.data for config.method. Errors name the path and say what is missing (no S1 in a
// dataset for dual-contrastive or ms+sar, a patch larger than the images, ...).
PretrainData open_pretrain_data(const PretrainConfig& config);

// The loader transform: normalizes S1/S2 with the statistics, makes the method's two views of
// patch x patch pixels and writes them one after the other.
data::SampleTransform pretrain_transform(const PretrainData& data);

// Loader options of a run (sample_shape (1, 1, total), drop_last, seed, workers, device).
data::LoaderOptions pretrain_loader_options(const PretrainConfig& config, const PretrainData& data, Device device);

// batch images (n, 1, 1, total) f32 -> views (n, P, P, C_k) in `dtype` on the batch's device.
std::vector<Tensor> split_views(const Tensor& images, const PretrainData& data, DType dtype);

}  // namespace rsd::pretrain
