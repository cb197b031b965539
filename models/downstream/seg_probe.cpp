#include "models/downstream/seg_probe.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "data/layouts.h"
#include "engine/atomic_file.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops/convert.h"
#include "models/downstream/classification_metrics.h"
#include "models/downstream/pretrained_encoder.h"
#include "models/downstream/probe_data.h"
#include "models/downstream/seeded_stream.h"

namespace rsd::downstream {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int32_t kIgnore = -1;
constexpr int64_t kTilesPerBatch = 16;

struct Tile {
  data::Raster chip;           // (tile, tile, C) raw bands
  std::vector<int32_t> label;  // (tile * tile) class index, kIgnore where unlabelled
  bool train = false;
  std::vector<int64_t> pixels;  // the pixels taken: sampled (train) or every labelled one (test)
};

data::Raster crop(const data::Raster& r, int64_t y0, int64_t x0, int64_t size) {
  data::Raster out;
  out.bands = r.bands;
  out.height = out.width = size;
  out.geo = r.geo;
  out.source = str_cat(r.source, " [tile at row ", y0, ", column ", x0, "]");
  out.source_dtype = r.source_dtype;
  const int64_t c = r.channels();
  for (int64_t y = 0; y < size; ++y) {
    const auto from = static_cast<size_t>(((y0 + y) * r.width + x0) * c);
    const auto n = static_cast<size_t>(size * c);
    out.pixels.insert(out.pixels.end(), r.pixels.begin() + static_cast<std::ptrdiff_t>(from),
                      r.pixels.begin() + static_cast<std::ptrdiff_t>(from + n));
    if (!r.valid.empty())
      out.valid.insert(out.valid.end(), r.valid.begin() + static_cast<std::ptrdiff_t>(from),
                       r.valid.begin() + static_cast<std::ptrdiff_t>(from + n));
  }
  if (out.valid.empty()) out.valid.assign(out.pixels.size(), 1);
  out.invalid_count = static_cast<int64_t>(std::count(out.valid.begin(), out.valid.end(), 0));
  return out;
}

// Scenes -> tiles with raw label values (mapped to class indices later); the description.
std::vector<Tile> load_tiles(const SegOptions& o, std::vector<int32_t>* class_values, std::string* description) {
  const data::Dataset ds = data::discover(o.data);
  std::vector<Tile> tiles;
  std::vector<std::vector<float>> raw_labels;
  int64_t scenes = 0;
  for (const data::SampleRef& ref : ds.samples) {
    if (ref.label.kind != data::LabelKind::map) continue;
    const data::Sample s = data::load_sample(ref);
    RSD_CHECK(s.labels.map.has_value(), ref.id, ": the sample's label map did not load");
    const data::Raster chip = combined_chip(s);
    const data::Raster& label = *s.labels.map;
    RSD_CHECK(label.height == chip.height && label.width == chip.width, ref.id, ": the label map is ", label.height,
              " x ", label.width, " but the image is ", chip.height, " x ", chip.width);
    ++scenes;
    for (int64_t ty = 0; ty < chip.height / o.tile; ++ty)
      for (int64_t tx = 0; tx < chip.width / o.tile; ++tx) {
        Tile t;
        t.chip = crop(chip, ty * o.tile, tx * o.tile, o.tile);
        t.train = (ty + tx) % 2 == 0;
        const data::Raster l = crop(label, ty * o.tile, tx * o.tile, o.tile);
        std::vector<float> values(l.pixels.size());
        for (size_t i = 0; i < values.size(); ++i) values[i] = l.valid[i] != 0 ? l.pixels[i] : NAN;
        raw_labels.push_back(std::move(values));
        tiles.push_back(std::move(t));
      }
  }
  RSD_CHECK(scenes > 0, o.data, ": no sample with a label map (", ds.description, "); eval seg needs one, e.g. ",
            "Sen1Floods11 or TerraMesh with LULC/");
  RSD_CHECK(tiles.size() >= 2, o.data, ": the scenes are smaller than two tiles of ", o.tile,
            " px; use a smaller --tile");
  std::set<int32_t> values;
  for (const auto& l : raw_labels)
    for (float v : l)
      if (std::isfinite(v) && std::lround(v) != kIgnore) values.insert(static_cast<int32_t>(std::lround(v)));
  RSD_CHECK(values.size() >= 2, o.data, ": the label maps hold ", values.size(), " class(es); a probe needs two");
  class_values->assign(values.begin(), values.end());
  std::map<int32_t, int32_t> index;
  for (size_t k = 0; k < class_values->size(); ++k) index[(*class_values)[k]] = static_cast<int32_t>(k);
  int64_t train_tiles = 0;
  for (size_t i = 0; i < tiles.size(); ++i) {
    tiles[i].label.resize(raw_labels[i].size());
    for (size_t p = 0; p < raw_labels[i].size(); ++p) {
      const float v = raw_labels[i][p];
      const bool labelled = std::isfinite(v) && std::lround(v) != kIgnore;
      tiles[i].label[p] = labelled ? index[static_cast<int32_t>(std::lround(v))] : kIgnore;
    }
    train_tiles += tiles[i].train ? 1 : 0;
  }
  *description = str_cat(ds.description, "; ", scenes, " scene(s) cut into ", tiles.size(), " tiles of ", o.tile,
                         " px, split in a checkerboard: ", train_tiles, " train, ",
                         static_cast<int64_t>(tiles.size()) - train_tiles,
                         " test (neighbouring tiles: this measures fit, not transfer to new places)");
  return tiles;
}

// Train tiles: a seeded sample of at most max_train_pixels labelled pixels in all; test tiles:
// every labelled pixel.
void choose_pixels(std::vector<Tile>& tiles, int64_t max_train_pixels, uint64_t seed) {
  std::vector<std::pair<size_t, int64_t>> train;  // (tile, pixel)
  for (size_t i = 0; i < tiles.size(); ++i)
    for (size_t p = 0; p < tiles[i].label.size(); ++p) {
      if (tiles[i].label[p] == kIgnore) continue;
      if (tiles[i].train)
        train.emplace_back(i, static_cast<int64_t>(p));
      else
        tiles[i].pixels.push_back(static_cast<int64_t>(p));
    }
  SeededStream stream(seed);
  const size_t keep = std::min(train.size(), static_cast<size_t>(max_train_pixels));
  for (size_t i = 0; i < keep; ++i) std::swap(train[i], train[i + stream.below(train.size() - i)]);
  train.resize(keep);
  std::sort(train.begin(), train.end());
  for (const auto& [tile, pixel] : train) tiles[tile].pixels.push_back(pixel);
}

void sample_bilinear(const float* map, int64_t h, int64_t w, int64_t dim, int64_t stride, int64_t y, int64_t x,
                     float* out) {
  auto coordinate = [&](int64_t p, int64_t size, int64_t* lo, int64_t* hi, double* frac) {
    const double f = std::clamp((static_cast<double>(p) + 0.5) / static_cast<double>(stride) - 0.5, 0.0,
                                static_cast<double>(size - 1));
    *lo = static_cast<int64_t>(std::floor(f));
    *hi = std::min(*lo + 1, size - 1);
    *frac = f - static_cast<double>(*lo);
  };
  int64_t y0, y1, x0, x1;
  double fy, fx;
  coordinate(y, h, &y0, &y1, &fy);
  coordinate(x, w, &x0, &x1, &fx);
  const float* a = map + (y0 * w + x0) * dim;
  const float* b = map + (y0 * w + x1) * dim;
  const float* c = map + (y1 * w + x0) * dim;
  const float* d = map + (y1 * w + x1) * dim;
  for (int64_t k = 0; k < dim; ++k) {
    const double top = a[k] + fx * (b[k] - a[k]);
    const double bottom = c[k] + fx * (d[k] - c[k]);
    out[k] = static_cast<float>(top + fy * (bottom - top));
  }
}

// Appends each tile's chosen pixels (features, class) to the train or test set.
void append_pixels(const Tile& t, const float* map, int64_t h, int64_t w, int64_t dim, int64_t stride,
                   LabeledFeatures* train, LabeledFeatures* test) {
  LabeledFeatures* set = t.train ? train : test;
  set->dim = dim;
  for (int64_t p : t.pixels) {
    set->x.resize(set->x.size() + static_cast<size_t>(dim));
    sample_bilinear(map, h, w, dim, stride, p / t.chip.width, p % t.chip.width, set->x.data() + set->rows * dim);
    set->y.push_back(t.label[static_cast<size_t>(p)]);
    ++set->rows;
  }
}

void encoder_pixels(const PretrainedEncoder& e, const std::vector<Tile>& tiles, LabeledFeatures* train,
                    LabeledFeatures* test) {
  const Device device = e.params->device();
  const auto c = static_cast<int64_t>(e.bands.size());
  for (size_t start = 0; start < tiles.size(); start += kTilesPerBatch) {
    const size_t end = std::min(tiles.size(), start + kTilesPerBatch);
    const auto n = static_cast<int64_t>(end - start);
    const int64_t size = tiles[start].chip.height;
    Tensor x = Tensor::empty({n, size, size, c}, DType::f32);
    for (size_t i = start; i < end; ++i) {
      const data::Raster in = encoder_input(tiles[i].chip, e.bands, e.statistics);
      std::memcpy(x.data<float>() + static_cast<int64_t>(i - start) * size * size * c, in.pixels.data(),
                  in.pixels.size() * sizeof(float));
    }
    Tensor fmap;
    {
      NoGradScope no_grad;
      fmap = e.feature_map(device.is_cpu() ? x : to_device(x, device));  // (n, h, w, D)
    }
    const std::vector<double> values = fmap.to_host_doubles();
    const int64_t h = fmap.dim(1), w = fmap.dim(2), dim = fmap.dim(3);
    const std::vector<float> map(values.begin(), values.end());
    for (size_t i = start; i < end; ++i)
      append_pixels(tiles[i], map.data() + static_cast<int64_t>(i - start) * h * w * dim, h, w, dim,
                    e.net->output_stride(), train, test);
  }
}

void band_value_pixels(const PretrainedEncoder& e, const std::vector<Tile>& tiles, LabeledFeatures* train,
                       LabeledFeatures* test) {
  for (const Tile& t : tiles) {
    const data::Raster in = encoder_input(t.chip, e.bands, e.statistics);
    append_pixels(t, in.pixels.data(), in.height, in.width, in.channels(), 1, train, test);
  }
}

SegResult evaluate(const std::string& features, const LabeledFeatures& train, const LabeledFeatures& test, int classes,
                   const SegOptions& o) {
  SegResult r;
  r.features = features;
  r.dim = train.dim;
  r.train_pixels = train.rows;
  r.test_pixels = test.rows;
  const LogisticRegressionFit fit = fit_logistic_regression_cv(train, classes, o.logistic);
  r.chosen_l2 = fit.chosen_l2;
  const ConfusionMatrix cm = ConfusionMatrix::from_predictions(classes, test.y, logistic_predict(fit.model, test));
  int present = 0;
  double sum = 0;
  for (int k = 0; k < classes; ++k) {
    const int64_t tp = cm.at(k, k), fp = cm.predicted_count(k) - tp, fn = cm.support(k) - tp;
    if (cm.support(k) == 0) {
      r.iou.push_back(-1);
      continue;
    }
    const double iou = static_cast<double>(tp) / static_cast<double>(tp + fp + fn);
    r.iou.push_back(iou);
    sum += iou;
    ++present;
  }
  r.miou = present > 0 ? sum / present : 0.0;
  r.pixel_accuracy = compute_metrics(cm).accuracy;
  return r;
}

std::string fixed(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

std::string report_text(const SegReport& r) {
  std::ostringstream out;
  out << "segmentation probe (1x1 conv on bilinearly upsampled frozen features, logistic regression) of " << r.model_id
      << "\n"
      << r.data_description << "\n"
      << "baselines: random-init = the same encoder with random weights; band-values = the pixel's normalized "
         "bands; same head\n"
      << "IoU per class (label value: IoU; '-' = absent from the test labels); mIoU over present classes\n\n";
  for (const SegResult& s : r.results) {
    out << s.features << ": dim " << s.dim << ", train pixels " << s.train_pixels << ", test pixels " << s.test_pixels
        << ", L2 " << s.chosen_l2 << ", pixel accuracy " << fixed(s.pixel_accuracy) << ", mIoU " << fixed(s.miou)
        << "\n   ";
    for (size_t k = 0; k < s.iou.size(); ++k)
      out << " " << r.class_values[k] << ": " << (s.iou[k] < 0 ? std::string("-") : fixed(s.iou[k]));
    out << "\n";
  }
  return out.str();
}

void write_outputs(const SegReport& r, const SegOptions& o) {
  std::error_code made;
  fs::create_directories(o.out_dir, made);
  RSD_CHECK(!made, "rsd eval --out ", o.out_dir, ": cannot make the folder: ", made.message());
  json results = json::array();
  for (const SegResult& s : r.results) {
    json iou = json::array();
    for (double v : s.iou) iou.push_back(v < 0 ? json(nullptr) : json(v));
    results.push_back({{"features", s.features},
                       {"dim", s.dim},
                       {"iou", iou},
                       {"miou", s.miou},
                       {"pixel_accuracy", s.pixel_accuracy},
                       {"train_pixels", s.train_pixels},
                       {"test_pixels", s.test_pixels},
                       {"chosen_l2", s.chosen_l2}});
  }
  const json doc = {{"model_id", r.model_id}, {"checkpoint", o.checkpoint},
                    {"data", o.data},         {"data_description", r.data_description},
                    {"tile", o.tile},         {"class_values", r.class_values},
                    {"results", results}};
  write_file_atomically((fs::path(o.out_dir) / "results.json").string(), doc.dump(2) + "\n");
  write_file_atomically((fs::path(o.out_dir) / "report.txt").string(), r.text);
}

}  // namespace

std::vector<float> upsample_bilinear(const std::vector<float>& map, int64_t h, int64_t w, int64_t dim, int64_t stride,
                                     int64_t height, int64_t width) {
  RSD_CHECK(h > 0 && w > 0 && dim > 0 && stride > 0 && static_cast<int64_t>(map.size()) == h * w * dim,
            "upsample_bilinear: a map of ", map.size(), " values is not ", h, " x ", w, " x ", dim);
  std::vector<float> out(static_cast<size_t>(height * width * dim));
  for (int64_t y = 0; y < height; ++y)
    for (int64_t x = 0; x < width; ++x)
      sample_bilinear(map.data(), h, w, dim, stride, y, x, out.data() + (y * width + x) * dim);
  return out;
}

SegReport run_segmentation_probe(const SegOptions& o) {
  RSD_CHECK(!o.checkpoint.empty(), "eval seg: --checkpoint is required");
  RSD_CHECK(!o.data.empty(), "eval seg: --data is required");
  RSD_CHECK(o.tile >= 8, "eval seg: --tile must be at least 8 px, got ", o.tile);
  RSD_CHECK(o.max_train_pixels >= 10, "eval seg: --max-train-pixels must be at least 10, got ", o.max_train_pixels);
  const Device device = parse_device(o.device);
  // The output folder before anything is loaded: a probe takes minutes, its results must have a place.
  if (!o.out_dir.empty()) check_eval_outputs(o.out_dir, o.checkpoint, o.data);
  SegReport report;
  std::vector<Tile> tiles = load_tiles(o, &report.class_values, &report.data_description);
  choose_pixels(tiles, o.max_train_pixels, o.seed);
  const PretrainedEncoder encoder = load_pretrained_encoder(o.checkpoint, o.encoder, o.bands, device);
  report.model_id = encoder.model_id;
  RSD_CHECK(o.tile % encoder.net->output_stride() == 0, "eval seg: --tile ", o.tile,
            " must be a multiple of the encoder's output stride ", encoder.net->output_stride());
  const PretrainedEncoder random = random_like(encoder, o.random_init_seed);
  const int classes = static_cast<int>(report.class_values.size());
  const PretrainedEncoder* encoders[] = {&encoder, &random};
  const char* names[] = {"pretrained", "random-init"};
  for (int e = 0; e < 2; ++e) {
    LabeledFeatures train, test;
    encoder_pixels(*encoders[e], tiles, &train, &test);
    report.results.push_back(evaluate(names[e], train, test, classes, o));
  }
  LabeledFeatures train, test;
  band_value_pixels(encoder, tiles, &train, &test);
  report.results.push_back(evaluate("band-values", train, test, classes, o));
  report.text = report_text(report);
  if (!o.out_dir.empty()) write_outputs(report, o);
  if (!o.quiet) std::cout << report.text << std::flush;
  return report;
}

}  // namespace rsd::downstream
