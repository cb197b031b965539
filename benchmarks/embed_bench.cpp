// embed_bench: the inference speed of a frozen encoder as `rsd embed` and `rsd eval` run it on the
// CPU (batch norm folded into the convolutions, models/folded.h), beside the same network unfolded
// (eval-mode batch norm as its own op):
//   chips   pooled features of a batch of chips at 32, 64 and 128 px: chips/s;
//   dense   the last stage's feature map of a whole real Sentinel-2 L2A cell (Major TOM 0U_199R,
//           B02 B03 B04 B08, 1068 x 1068, benchmarks/data/), normalized by the cell's own band
//           means and deviations: megapixels/s.
// The encoder has random weights and batch-norm statistics (speed does not depend on them). With
// --export it is written as `rsd export-weights` writes a trained one, and with --cell-npy the
// cell's normalized input is saved, so that benchmarks/torch_ref/embed_ref.py runs the same encoder
// through torchvision on the same input (compare with benchmarks/compare.py --metrics fwd_ms).
//
//   embed_bench --threads 2 --export /tmp/enc.safetensors --cell-npy /tmp/cell.npy --json rsd.json
//   python3 benchmarks/torch_ref/embed_ref.py --threads 2 --weights /tmp/enc.safetensors
//       --cell-npy /tmp/cell.npy --json torch.json   (one line)
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "benchmarks/bench_util.h"
#include "data/gdal/raster_reader.h"
#include "engine/atomic_file.h"
#include "engine/autograd.h"
#include "engine/npy.h"
#include "engine/rng.h"
#include "engine/safetensors.h"
#include "models/downstream/export_weights.h"
#include "models/downstream/pretrained_encoder.h"
#include "models/pretrain/method_factory.h"
#include "engine/shutdown.h"

using namespace rsd;

namespace {

struct Options {
  std::string arch = "resnet18", stem = "small-patch";
  std::vector<int64_t> sizes{32, 64, 128};
  int64_t batch = 32;
  std::string cell_dir = RSD_SOURCE_DIR "/benchmarks/data/major-tom-0U_199R";
  bool dense = true;
  int runs = 5, warmup = 1;
  std::string export_path, cell_npy, json_path;
  bench::CpuOptions cpu;
};

const std::vector<std::string> kBands{"B02", "B03", "B04", "B08"};

// The cell's bands stacked (1068 x 1068 x 4), and its per-band mean and deviation over valid pixels.
struct Cell {
  data::Raster raster;
  data::BandStatistics statistics;
};

Cell read_cell(const std::string& dir) {
  std::vector<data::RasterFile> files;
  for (const std::string& b : kBands) files.push_back({dir + "/" + b + ".tif", {b}, {}});
  Cell c{data::read_stack(files), {}};
  const int64_t C = c.raster.channels(), n = c.raster.height * c.raster.width;
  for (int64_t k = 0; k < C; ++k) {
    double sum = 0, sq = 0;
    int64_t count = 0;
    for (int64_t p = 0; p < n; ++p) {
      if (c.raster.valid[static_cast<size_t>(p * C + k)] == 0) continue;
      const double v = c.raster.pixels[static_cast<size_t>(p * C + k)];
      sum += v;
      sq += v * v;
      ++count;
    }
    RSD_CHECK(count > 1, dir, ": band ", kBands[static_cast<size_t>(k)], " has no valid pixels");
    data::BandStats s;
    s.kind = data::band_kind(kBands[static_cast<size_t>(k)]);
    s.mean = sum / static_cast<double>(count);
    s.std = std::sqrt(std::max(sq / static_cast<double>(count) - s.mean * s.mean, 1e-12));
    s.count = count;
    c.statistics.bands[kBands[static_cast<size_t>(k)]] = s;
  }
  return c;
}

// x (1, H, W, 4): the cell normalized per band (invalid pixels 0, the band mean).
Tensor normalized_cell(const Cell& c) {
  const int64_t C = c.raster.channels();
  Tensor x = Tensor::empty({1, c.raster.height, c.raster.width, C}, DType::f32);
  float* out = x.data<float>();
  for (size_t i = 0; i < c.raster.pixels.size(); ++i) {
    const data::BandStats& s = c.statistics.bands.at(kBands[i % static_cast<size_t>(C)]);
    out[i] = c.raster.valid[i] ? static_cast<float>((c.raster.pixels[i] - s.mean) / s.std) : 0.0f;
  }
  return x;
}

// Random weights, and batch norms away from identity so that folding changes every weight.
downstream::PretrainedEncoder random_encoder(const Options& o, const data::BandStatistics& statistics) {
  pretrain::ModelConfig mc;
  mc.arch = o.arch;
  mc.stem = o.stem;
  downstream::PretrainedEncoder e;
  e.params = std::make_unique<ParameterRegistry>(false);
  Generator gen(11);
  e.net = std::make_unique<models::ResNet>(models::LayerContext{*e.params, gen, Device::cpu(), ""},
                                           pretrain::encoder_config(mc, static_cast<int>(kBands.size())));
  uint64_t seed = 100;
  for (const auto& [name, buffer] : e.params->buffers()) {
    Tensor* b = e.params->find_buffer(name);
    const bool var = name.find("running_var") != std::string::npos;
    fill_uniform_(*b, ++seed, 0, var ? 0.5 : -0.1, var ? 1.5 : 0.1);
  }
  e.bands = kBands;
  e.statistics = statistics;
  e.method = "random";
  e.which = "online";
  e.model_id = "embed_bench (random weights, seed 11)";
  e.fold_for_inference();
  return e;
}

nlohmann::json row(const std::string& op, const std::string& shape, const std::string& variant,
                   const bench::Timing& t, const std::string& rate_name, double rate) {
  return {{"op", op}, {"shape", shape}, {"dtype", "f32"}, {"variant", variant}, {"fwd_ms", t.median_ms},
          {"min_ms", t.min_ms}, {"runs", t.runs}, {rate_name, rate}};
}

// Times the folded encoder (rsd's inference path) and the unfolded one on x; prints a row each.
void bench_pair(const downstream::PretrainedEncoder& e, const Tensor& x, bool pooled, const std::string& op,
                const std::string& shape, double units, const std::string& unit, const Options& o,
                nlohmann::json& out) {
  const NoGradScope no_grad;
  const auto folded = [&] { pooled ? e.features(x) : e.feature_map(x); };
  const auto unfolded = [&] { pooled ? e.net->forward(x, false) : e.net->feature_map(x, false); };
  for (const auto& [variant, fn] : {std::pair<std::string, std::function<void()>>{"folded", folded},
                                    std::pair<std::string, std::function<void()>>{"unfolded", unfolded}}) {
    const bench::Timing t = bench::time_runs(Device::cpu(), fn, o.warmup, o.runs);
    const double rate = units / (t.median_ms * 1e-3);
    std::printf("%-7s %-24s %-9s %12.1f %14.2f %s\n", op.c_str(), shape.c_str(), variant.c_str(), t.median_ms, rate,
                unit.c_str());
    std::fflush(stdout);
    nlohmann::json r = row(variant == "folded" ? op : op + " (unfolded)", shape, variant, t, unit, rate);
    out.push_back(r);
  }
}

int run(const Options& o) {
  std::optional<CpuBackendScope> backend;
  bench::apply_cpu_options(o.cpu, backend);
  const Cell cell = read_cell(o.cell_dir);
  const downstream::PretrainedEncoder e = random_encoder(o, cell.statistics);
  if (!o.export_path.empty()) {
    write_safetensors(o.export_path, downstream::torchvision_state(e), downstream::export_metadata(e));
    std::printf("wrote the encoder to %s (benchmarks/torch_ref/embed_ref.py --weights)\n", o.export_path.c_str());
  }
  const std::string dev = bench::device_name(Device::cpu());
  std::printf("embed_bench: %s %s, %zu bands, on %s; median of %d runs after %d warm-up\n", o.arch.c_str(),
              o.stem.c_str(), kBands.size(), dev.c_str(), o.runs, o.warmup);
  std::printf("%-7s %-24s %-9s %12s %14s\n", "what", "shape", "variant", "ms", "rate");
  nlohmann::json results = nlohmann::json::array();
  for (const int64_t px : o.sizes) {
    Tensor x = Tensor::empty({o.batch, px, px, static_cast<int64_t>(kBands.size())}, DType::f32);
    fill_normal_(x, static_cast<uint64_t>(px), 0, 0.0, 1.0);
    bench_pair(e, x, true, "chips", str_cat(px, "px batch ", o.batch), static_cast<double>(o.batch), "chips/s", o,
               results);
  }
  if (o.dense) {
    const Tensor x = normalized_cell(cell);
    if (!o.cell_npy.empty()) {
      write_npy(o.cell_npy, x);
      std::printf("wrote the normalized cell to %s (embed_ref.py --cell-npy)\n", o.cell_npy.c_str());
    }
    bench_pair(e, x, false, "dense", str_cat(x.dim(1), "x", x.dim(2), " Major TOM"),
               static_cast<double>(x.dim(1) * x.dim(2)) / 1e6, "MP/s", o, results);
  }
  if (!o.json_path.empty()) {
    const nlohmann::json doc = {{"benchmark", "embed_bench"}, {"implementation", "rsd"}, {"device", dev},
                                {"arch", o.arch},           {"stem", o.stem},           {"results", results}};
    write_file_atomically(o.json_path, doc.dump(2));
    std::printf("wrote %s\n", o.json_path.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  rsd::ShutdownAtExit shutdown_at_exit;  // ends the device state before static destruction (engine/shutdown.h)
  CLI::App app{"embed_bench: frozen-encoder inference on the CPU (chips/s, dense MP/s on a real cell), folded and not"};
  Options o;
  app.add_option("--arch", o.arch, "resnet18, resnet34 or resnet50")->capture_default_str();
  app.add_option("--stem", o.stem, "standard or small-patch")->capture_default_str();
  app.add_option("--sizes", o.sizes, "Chip sizes in pixels")->capture_default_str();
  app.add_option("--batch", o.batch, "Chips per batch")->capture_default_str();
  app.add_option("--cell", o.cell_dir, "Folder with the cell's B02 B03 B04 B08 GeoTIFFs")->capture_default_str();
  app.add_flag("!--no-dense", o.dense, "Skip the dense feature map of the cell");
  app.add_option("--runs", o.runs, "Timed runs (median)")->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--warmup", o.warmup, "Untimed runs first")->capture_default_str();
  app.add_option("--export", o.export_path, "Write the encoder here as `rsd export-weights` does (for embed_ref.py)");
  app.add_option("--cell-npy", o.cell_npy, "Write the normalized cell (1, H, W, 4) float32 here (for embed_ref.py)");
  app.add_option("--json", o.json_path, "Write the results as JSON to this file");
  bench::add_cpu_options(app, o.cpu);
  CLI11_PARSE(app, argc, argv);
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "embed_bench: %s\n", e.what());
    return 1;
  }
}
