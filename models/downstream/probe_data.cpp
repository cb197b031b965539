#include "models/downstream/probe_data.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "data/layouts.h"
#include "engine/error.h"
#include "engine/ops/convert.h"
#include "engine/output_preflight.h"
#include "engine/progress.h"

namespace rsd::downstream {

void check_eval_outputs(const std::string& out_dir, const std::string& checkpoint, const std::string& data) {
  std::vector<ProtectedInput> inputs = checkpoint_inputs(checkpoint);
  inputs.push_back({data, "the dataset folder (--data)", true});
  check_output_dir(out_dir, "rsd eval --out", {"results.json", "report.txt"}, uint64_t{4} << 20, inputs,
                   "results.json, report.txt and confusion-matrix PNGs");
}

data::Raster combined_chip(const data::Sample& s) {
  RSD_CHECK(s.s1.has_value() || s.s2.has_value(), s.id, ": the sample has no S1 or S2 raster");
  if (!s.s1.has_value()) return *s.s2;
  if (!s.s2.has_value()) return *s.s1;
  const data::Raster& a = *s.s2;
  const data::Raster& b = *s.s1;
  RSD_CHECK(a.height == b.height && a.width == b.width, s.id, ": S2 is ", a.height, " x ", a.width, " but S1 is ",
            b.height, " x ", b.width);
  data::Raster out = a;
  out.bands.insert(out.bands.end(), b.bands.begin(), b.bands.end());
  const int64_t ca = a.channels(), cb = b.channels(), c = ca + cb;
  out.pixels.assign(static_cast<size_t>(a.height * a.width * c), 0.0f);
  out.valid.assign(out.pixels.size(), 0);
  for (int64_t p = 0; p < a.height * a.width; ++p) {
    for (int64_t k = 0; k < ca; ++k) {
      out.pixels[static_cast<size_t>(p * c + k)] = a.pixels[static_cast<size_t>(p * ca + k)];
      out.valid[static_cast<size_t>(p * c + k)] = a.valid[static_cast<size_t>(p * ca + k)];
    }
    for (int64_t k = 0; k < cb; ++k) {
      out.pixels[static_cast<size_t>(p * c + ca + k)] = b.pixels[static_cast<size_t>(p * cb + k)];
      out.valid[static_cast<size_t>(p * c + ca + k)] = b.valid[static_cast<size_t>(p * cb + k)];
    }
  }
  out.invalid_count = a.invalid_count + b.invalid_count;
  out.source = a.source + " + " + b.source;
  return out;
}

ClassificationChips load_classification_chips(const std::string& path, bool quiet) {
  const data::Dataset ds = data::discover(path);
  RSD_CHECK(!ds.classes.empty(), path, ": the dataset has no class list (", ds.description,
            "); the classification probes need single-label samples, e.g. EuroSAT-MS");
  size_t train_count = 0, test_count = 0;
  for (const data::SampleRef& r : ds.samples) {
    train_count += r.split == "train" ? 1 : 0;
    test_count += r.split == "test" ? 1 : 0;
  }
  RSD_CHECK(train_count > 0 && test_count > 0, path, ": the probes need a train/ and a test/ split; found ",
            train_count, " training and ", test_count, " test samples (", ds.description, ")");
  ClassificationChips out;
  out.classes = ds.classes;
  ProgressBar bar("loading chips", static_cast<int64_t>(train_count + test_count));
  int64_t done = 0;
  for (const data::SampleRef& r : ds.samples) {
    if (r.split != "train" && r.split != "test") continue;
    RSD_CHECK(r.label.class_index >= 0, r.id, ": the sample has no class label");
    data::Sample s = data::load_sample(r);
    data::Raster chip = combined_chip(s);
    if (out.bands.empty()) out.bands = chip.bands;
    (r.split == "train" ? out.train : out.test).push_back(std::move(chip));
    (r.split == "train" ? out.train_labels : out.test_labels).push_back(r.label.class_index);
    ++done;
    if (!quiet) bar.update(done, "");
  }
  if (!quiet) bar.finish("");
  out.description = str_cat(ds.description, "; probe splits: train ", out.train.size(), ", test ", out.test.size());
  return out;
}

data::Raster encoder_input(const data::Raster& chip, const std::vector<std::string>& bands,
                           const data::BandStatistics& statistics) {
  const int64_t c = static_cast<int64_t>(bands.size()), cin = chip.channels();
  std::vector<int64_t> source(bands.size());
  for (size_t k = 0; k < bands.size(); ++k) {
    const auto it = std::find(chip.bands.begin(), chip.bands.end(), bands[k]);
    if (it == chip.bands.end()) {
      std::string have;
      for (const std::string& b : chip.bands) have += (have.empty() ? "" : " ") + b;
      fail(chip.source, ": the encoder reads band ", bands[k], ", which the chip lacks (it has ", have, ")");
    }
    source[k] = it - chip.bands.begin();
  }
  data::Raster out;
  out.bands = bands;
  out.height = chip.height;
  out.width = chip.width;
  out.geo = chip.geo;
  out.source = chip.source;
  out.source_dtype = chip.source_dtype;
  out.pixels.resize(static_cast<size_t>(chip.height * chip.width * c));
  out.valid.resize(out.pixels.size());
  for (int64_t p = 0; p < chip.height * chip.width; ++p)
    for (int64_t k = 0; k < c; ++k) {
      const auto from = static_cast<size_t>(p * cin + source[static_cast<size_t>(k)]);
      out.pixels[static_cast<size_t>(p * c + k)] = chip.pixels[from];
      out.valid[static_cast<size_t>(p * c + k)] = chip.valid.empty() ? 1 : chip.valid[from];
    }
  out.invalid_count = static_cast<int64_t>(std::count(out.valid.begin(), out.valid.end(), 0));
  data::normalize(out, statistics);
  return out;
}

LabeledFeatures encoder_features(const PretrainedEncoder& encoder, const std::vector<data::Raster>& chips,
                                 const std::vector<int32_t>& labels, int64_t batch) {
  RSD_CHECK(batch > 0, "encoder features: the batch must be positive, got ", batch);
  RSD_CHECK(chips.size() == labels.size(), "encoder features: ", chips.size(), " chips but ", labels.size(), " labels");
  LabeledFeatures out;
  out.y = labels;
  out.rows = static_cast<int64_t>(chips.size());
  const Device device = encoder.params->device();
  const auto channels = static_cast<int64_t>(encoder.bands.size());
  size_t start = 0;
  while (start < chips.size()) {
    // A batch: up to `batch` consecutive chips of the first one's size.
    size_t end = start;
    std::vector<float> pixels;
    while (end < chips.size() && static_cast<int64_t>(end - start) < batch &&
           chips[end].height == chips[start].height && chips[end].width == chips[start].width) {
      const data::Raster in = encoder_input(chips[end], encoder.bands, encoder.statistics);
      pixels.insert(pixels.end(), in.pixels.begin(), in.pixels.end());
      ++end;
    }
    const auto n = static_cast<int64_t>(end - start);
    Tensor x = Tensor::empty({n, chips[start].height, chips[start].width, channels}, DType::f32);
    std::memcpy(x.data<float>(), pixels.data(), pixels.size() * sizeof(float));
    const std::vector<double> f = encoder.features(device.is_cpu() ? x : to_device(x, device)).to_host_doubles();
    out.dim = static_cast<int64_t>(f.size()) / n;
    for (double v : f) {
      RSD_CHECK(std::isfinite(v), encoder.model_id, ": a feature of the batch starting at ", chips[start].source,
                " is not finite");
      out.x.push_back(static_cast<float>(v));
    }
    start = end;
  }
  return out;
}

LabeledFeatures band_statistics_features(const std::vector<std::string>& bands, const data::BandStatistics& statistics,
                                         const std::vector<data::Raster>& chips, const std::vector<int32_t>& labels) {
  RSD_CHECK(chips.size() == labels.size(), "band statistics features: ", chips.size(), " chips but ", labels.size(),
            " labels");
  LabeledFeatures out;
  out.y = labels;
  out.rows = static_cast<int64_t>(chips.size());
  out.dim = 2 * static_cast<int64_t>(bands.size());
  for (const data::Raster& chip : chips) {
    const data::Raster in = encoder_input(chip, bands, statistics);
    const int64_t c = in.channels();
    for (int64_t k = 0; k < c; ++k) {
      double sum = 0, sum_sq = 0;
      int64_t count = 0;
      for (int64_t p = 0; p < in.height * in.width; ++p) {
        const auto i = static_cast<size_t>(p * c + k);
        if (in.valid[i] == 0) continue;
        sum += in.pixels[i];
        sum_sq += static_cast<double>(in.pixels[i]) * in.pixels[i];
        ++count;
      }
      const double mean = count > 0 ? sum / static_cast<double>(count) : 0.0;
      const double var = count > 0 ? std::max(0.0, sum_sq / static_cast<double>(count) - mean * mean) : 0.0;
      out.x.push_back(static_cast<float>(mean));
      out.x.push_back(static_cast<float>(std::sqrt(var)));
    }
  }
  return out;
}

}  // namespace rsd::downstream
