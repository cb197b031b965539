// loader_bench: throughput of the threaded loader (data/loader.h), in samples/s and MB/s, by number
// of worker threads, for 15-band 128 x 128 samples (13 S2 bands + VV, VH), from two sources:
//   shards   memory-mapped shards read zero-copy (ShardSource views). Unless --shards names a
//            dataset, SYNTHETIC shards are made first with `rsd make-synthetic`'s generator
//            (random values, labelled synthetic in the shards, in the output and in the JSON).
//            Every record's CRC32C is checked as it is read, as in training (data/shard_source.h);
//            --verify both (the default) also runs "shards-unverified" without the check, so the
//            check's cost is measured; --verify on / off runs one of them.
//   geotiff  the same kind of samples decoded from GeoTIFFs with GDAL at every read (LayoutSource):
//            --geotiffs names a dataset folder or CSV manifest, e.g. one made by
//            benchmarks/make_synthetic_geotiffs.py (labelled synthetic by the SYNTHETIC file it
//            leaves there). Needs a build with GDAL.
// Every sample goes through a realistic transform: a random crop (--crop, default 112) and random
// horizontal and vertical flips of every raster, S2 and S1 bands concatenated into f32
// (crop, crop, 15), copied row by row (a memcpy per row when nothing is flipped). The consumer takes
// batches as fast as they come (no compute), so the figure is the loader's ceiling. MB/s in: bytes
// of the sample's f32 pixels read (15 x 128 x 128 x 4 = 983 kB); out: bytes of batch delivered.
// Each configuration: warm-up, then --repeats windows of --seconds; the median window is reported.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "benchmarks/bench_util.h"
#include "data/layout_source.h"
#include "data/loader.h"
#include "data/shard_source.h"
#include "data/synthetic_shards.h"
#include "engine/atomic_file.h"
#include "kernels/philox.h"
#include "engine/shutdown.h"

using namespace rsd;
using namespace rsd::data;

namespace {

using Clock = std::chrono::steady_clock;

// Copies `count` pixels of C channels from src (stepping src_step floats per pixel: C, or -C for a
// mirrored row) to dst (stepping dst_step floats: the output's channel count).
template <int C>
void copy_pixels(const float* src, int64_t src_step, float* dst, int64_t dst_step, int64_t count) {
  for (int64_t x = 0; x < count; ++x, src += src_step, dst += dst_step)
    for (int k = 0; k < C; ++k) dst[k] = src[k];
}

void copy_pixels(const float* src, int64_t src_step, float* dst, int64_t dst_step, int64_t count, int64_t c) {
  switch (c) {  // fixed channel counts unroll into a few vector moves per pixel
    case 1: return copy_pixels<1>(src, src_step, dst, dst_step, count);
    case 2: return copy_pixels<2>(src, src_step, dst, dst_step, count);
    case 3: return copy_pixels<3>(src, src_step, dst, dst_step, count);
    case 4: return copy_pixels<4>(src, src_step, dst, dst_step, count);
    case 12: return copy_pixels<12>(src, src_step, dst, dst_step, count);
    case 13: return copy_pixels<13>(src, src_step, dst, dst_step, count);
    case 15: return copy_pixels<15>(src, src_step, dst, dst_step, count);
    default:
      for (int64_t x = 0; x < count; ++x, src += src_step, dst += dst_step)
        for (int64_t k = 0; k < c; ++k) dst[k] = src[k];
  }
}

// Random crop + flips of every raster of the sample, bands concatenated (S2, then S1).
// out: (crop, crop, C) with C the sum of the rasters' channels.
class CropFlip {
 public:
  CropFlip(int64_t crop, int64_t channels) : crop_(crop), channels_(channels) {}

  void operator()(const SampleView& s, uint64_t seed, uint64_t, float* out) const {
    const PixelView* rasters[2];
    int count = 0;
    for (const PixelView* r : {&s.s2, &s.s1})
      if (r->present()) rasters[count++] = r;
    RSD_CHECK(count > 0, "crop+flip: sample '", s.id, "' has no S1 or S2 pixels");
    const int64_t h = rasters[0]->height, w = rasters[0]->width;
    int64_t c_total = 0;
    for (int i = 0; i < count; ++i) {
      RSD_CHECK(rasters[i]->height == h && rasters[i]->width == w, "crop+flip: sample '", s.id, "': S1 and S2 sizes differ");
      c_total += rasters[i]->channels;
    }
    RSD_CHECK(c_total == channels_ && h >= crop_ && w >= crop_, "crop+flip: sample '", s.id, "' is ", h, " x ", w, " x ",
              c_total, ", expected at least ", crop_, " x ", crop_, " x ", channels_);
    const kernels::Philox4 r = kernels::philox_block(seed, 0);
    const int64_t y0 = static_cast<int64_t>(r.v[0] % static_cast<uint32_t>(h - crop_ + 1));
    const int64_t x0 = static_cast<int64_t>(r.v[1] % static_cast<uint32_t>(w - crop_ + 1));
    const bool flip_h = (r.v[2] & 1u) != 0, flip_v = (r.v[3] & 1u) != 0;
    for (int64_t y = 0; y < crop_; ++y) {
      const int64_t sy = y0 + (flip_v ? crop_ - 1 - y : y);
      float* row = out + y * crop_ * channels_;
      if (count == 1 && !flip_h) {  // one raster, no horizontal flip: the row is contiguous
        std::memcpy(row, rasters[0]->pixels + (sy * w + x0) * channels_, static_cast<size_t>(crop_ * channels_) * 4);
        continue;
      }
      int64_t c0 = 0;
      for (int i = 0; i < count; ++i) {
        const int64_t c = rasters[i]->channels;
        const float* first = rasters[i]->pixels + (sy * w + x0 + (flip_h ? crop_ - 1 : 0)) * c;
        copy_pixels(first, flip_h ? -c : c, row + c0, channels_, crop_, c);
        c0 += c;
      }
    }
  }

 private:
  int64_t crop_, channels_;
};

struct Window {
  double samples_per_s = 0;
  double windowed_samples_per_s = 0;  // the loader's own sliding-window counter
};

struct Config {
  int64_t batch = 64;
  int prefetch = 4;
  int64_t crop = 112;
  double seconds = 3;
  int repeats = 3;
  int64_t warmup_batches = 8;
  Device device = Device::cpu();
};

// Runs one loader configuration: warm-up, then `repeats` timed windows.
std::vector<Window> measure(const std::shared_ptr<const SampleSource>& source, int64_t channels, int threads,
                            const Config& cfg) {
  LoaderOptions o;
  o.batch_size = cfg.batch;
  o.sample_shape = {cfg.crop, cfg.crop, channels};
  o.workers = threads;
  o.prefetch = cfg.prefetch;
  o.seed = 1;
  o.device = cfg.device;
  o.rate_window_s = cfg.seconds;
  Loader loader(source, ViewTransform(CropFlip(cfg.crop, channels)), o);
  for (int64_t b = 0; b < cfg.warmup_batches; ++b) loader.next();
  std::vector<Window> windows;
  for (int r = 0; r < cfg.repeats; ++r) {
    int64_t samples = 0;
    const Clock::time_point t0 = Clock::now();
    double elapsed = 0;
    while (elapsed < cfg.seconds) {
      samples += loader.next()->rows();
      elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    }
    synchronize(cfg.device);
    elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    windows.push_back({static_cast<double>(samples) / elapsed, loader.stats().samples_per_s});
  }
  return windows;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// Channels and pixel bytes of one sample, from the source's first sample.
struct SampleSize {
  int64_t height = 0, width = 0, channels = 0;
  double bytes() const { return static_cast<double>(height * width * channels) * 4.0; }
};

SampleSize sample_size(const SampleSource& source) {
  Sample s;
  SampleView v;
  if (!source.view(0, v)) {
    source.read(0, s);
    v = view_of(s);
  }
  SampleSize z;
  for (const PixelView* r : {&v.s2, &v.s1}) {
    if (!r->present()) continue;
    z.height = r->height;
    z.width = r->width;
    z.channels += r->channels;
  }
  return z;
}

void run_source(const std::string& kind, const std::string& description, bool synthetic,
                const std::shared_ptr<const SampleSource>& source, const std::vector<int>& threads, const Config& cfg,
                nlohmann::json& results) {
  const SampleSize z = sample_size(*source);
  const double out_bytes = static_cast<double>(cfg.crop * cfg.crop * z.channels) * 4.0;
  std::printf("\n%s: %s%s\n  %lld samples of %lld x %lld x %lld f32; crop %lld + flips -> (%lld, %lld, %lld); batch %lld, "
              "prefetch %d\n",
              kind.c_str(), synthetic ? "SYNTHETIC data, " : "", description.c_str(),
              static_cast<long long>(source->size()), static_cast<long long>(z.height), static_cast<long long>(z.width),
              static_cast<long long>(z.channels), static_cast<long long>(cfg.crop), static_cast<long long>(cfg.crop),
              static_cast<long long>(cfg.crop), static_cast<long long>(z.channels), static_cast<long long>(cfg.batch),
              cfg.prefetch);
  std::printf("  %-8s %12s %12s %12s %12s %12s\n", "threads", "samples/s", "min", "max", "MB/s in", "MB/s out");
  for (int t : threads) {
    const std::vector<Window> w = measure(source, z.channels, t, cfg);
    std::vector<double> rates, windowed;
    for (const Window& x : w) {
      rates.push_back(x.samples_per_s);
      windowed.push_back(x.windowed_samples_per_s);
    }
    const double med = median(rates);
    const double lo = *std::min_element(rates.begin(), rates.end()), hi = *std::max_element(rates.begin(), rates.end());
    std::printf("  %-8d %12.0f %12.0f %12.0f %12.0f %12.0f\n", t, med, lo, hi, med * z.bytes() / 1e6,
                med * out_bytes / 1e6);
    std::fflush(stdout);
    results.push_back({{"source", kind},
                       {"synthetic", synthetic},
                       {"description", description},
                       {"threads", t},
                       {"samples_per_s", med},
                       {"samples_per_s_min", lo},
                       {"samples_per_s_max", hi},
                       {"loader_window_samples_per_s", median(windowed)},
                       {"mb_per_s_in", med * z.bytes() / 1e6},
                       {"mb_per_s_out", med * out_bytes / 1e6},
                       {"sample_shape", {z.height, z.width, z.channels}},
                       {"output_shape", {cfg.crop, cfg.crop, z.channels}},
                       {"samples", source->size()},
                       {"windows", cfg.repeats},
                       {"window_s", cfg.seconds}});
  }
}

// benchmarks/make_synthetic_geotiffs.py leaves a file named SYNTHETIC beside its manifest.
bool made_by_synthetic_script(const std::string& path) {
  const std::filesystem::path p(path);
  const std::filesystem::path folder = std::filesystem::is_directory(p) ? p : p.parent_path();
  return std::filesystem::exists(folder / "SYNTHETIC");
}

std::vector<int> default_threads() {
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  std::vector<int> t;
  for (int n = 1; n <= std::max(4, 2 * cores) && n <= 64; n *= 2) t.push_back(n);
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  rsd::ShutdownAtExit shutdown_at_exit;  // ends the device state before static destruction (engine/shutdown.h)
  CLI::App app{"loader_bench: samples/s and MB/s of the threaded data loader, from shards and GeoTIFFs, by thread count"};
  std::string shards, geotiffs, data_dir, json_path, device_name = "cpu", verify = "both";
  int64_t samples = 2048;
  int bands = 15, size = 128;
  bool keep = false, no_shards = false;
  std::vector<int> threads;
  Config cfg;
  app.add_option("--shards", shards, "Read this shard dataset (dataset.json, its folder or one .rsd) instead of making synthetic shards");
  app.add_option("--samples", samples, "Synthetic shards: number of samples")->capture_default_str();
  app.add_option("--bands", bands, "Synthetic shards: bands (13 S2 first, then VV, VH)")->check(CLI::Range(1, 15))->capture_default_str();
  app.add_option("--size", size, "Synthetic shards: height = width")->capture_default_str();
  app.add_option("--data-dir", data_dir, "Where to write the synthetic shards, kept after the run (default: a temporary folder, removed)");
  app.add_flag("--keep", keep, "Keep the synthetic shards after the run");
  app.add_flag("--no-shards", no_shards, "Skip the shard source (GeoTIFFs only)");
  app.add_option("--verify", verify, "Shards: check each record's CRC32C as read (on, as training does), off, or both")
      ->check(CLI::IsMember({"on", "off", "both"}))
      ->capture_default_str();
  app.add_option("--geotiffs", geotiffs, "Also read this dataset folder or CSV manifest directly from GeoTIFFs (needs GDAL)");
  app.add_option("--threads", threads, "Worker thread counts (default 1 2 4 ... up to twice the cores, at least 4)");
  app.add_option("--batch", cfg.batch, "Batch size")->capture_default_str();
  app.add_option("--prefetch", cfg.prefetch, "Ring slots (batches in flight)")->capture_default_str();
  app.add_option("--crop", cfg.crop, "Random crop size")->capture_default_str();
  app.add_option("--seconds", cfg.seconds, "Length of one timed window")->capture_default_str();
  app.add_option("--repeats", cfg.repeats, "Timed windows per configuration (median reported)")->check(CLI::Range(1, 1000))->capture_default_str();
  app.add_option("--warmup", cfg.warmup_batches, "Untimed batches first")->capture_default_str();
  app.add_option("--device", device_name, "cpu, cuda, cuda:N or auto: where batches are delivered")->capture_default_str();
  app.add_option("--json", json_path, "Write the results as JSON to this file");
  CLI11_PARSE(app, argc, argv);
  if (threads.empty()) threads = default_threads();
  std::filesystem::path made;
  int rc = 0;
  try {
    cfg.device = parse_device(device_name);
    const std::string dev = bench::device_name(cfg.device);
    std::printf("loader_bench on %s, batches delivered to %s; median of %d windows of %.1f s after %lld warm-up batches\n",
                dev.c_str(), cfg.device.str().c_str(), cfg.repeats, cfg.seconds, static_cast<long long>(cfg.warmup_batches));
    nlohmann::json results = nlohmann::json::array();
    bool synthetic_shards = false;
    if (!no_shards) {
      if (shards.empty()) {
        made = data_dir.empty() ? std::filesystem::temp_directory_path() /
                                      ("rsd_loader_bench_" + std::to_string(Clock::now().time_since_epoch().count()))
                                : std::filesystem::path(data_dir);
        data::SyntheticShardsConfig sc;
        sc.out = made.string();
        sc.samples = samples;
        sc.bands = bands;
        sc.size = size;
        sc.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
        sc.progress = false;
        std::printf("making %lld SYNTHETIC samples (%d bands, %d x %d, random values) in %s ...\n",
                    static_cast<long long>(samples), bands, size, size, sc.out.c_str());
        std::fflush(stdout);
        data::make_synthetic_shards(sc);
        shards = sc.out;
      }
      auto dataset = std::make_shared<const ShardDataset>(shards);
      synthetic_shards = dataset->synthetic();
      if (verify != "off") {
        run_source("shards", "memory-mapped shards " + shards + " (zero-copy views, CRC32C checked, page cache warm)",
                   synthetic_shards, std::make_shared<const ShardSource>(dataset, true), threads, cfg, results);
      }
      if (verify != "on") {
        run_source("shards-unverified",
                   "memory-mapped shards " + shards + " (zero-copy views, no CRC32C check, page cache warm)",
                   synthetic_shards, std::make_shared<const ShardSource>(dataset, false), threads, cfg, results);
      }
    }
    if (!geotiffs.empty()) {
      RSD_CHECK(RSD_HAVE_GDAL, "--geotiffs: this build of rsd has no GDAL");
      auto source = std::make_shared<const LayoutSource>(geotiffs);
      const bool synthetic = made_by_synthetic_script(geotiffs);
      run_source("geotiff", "GeoTIFFs " + geotiffs + " decoded by GDAL at every read (" + source->dataset().description + ")",
                 synthetic, source, threads, cfg, results);
    } else {
      std::printf("\ngeotiff: not run (give --geotiffs DIR_OR_CSV; %s)\n",
                  RSD_HAVE_GDAL ? "make one with benchmarks/make_synthetic_geotiffs.py" : "this build has no GDAL");
    }
    if (!json_path.empty()) {
      const nlohmann::json doc = {{"benchmark", "loader_bench"},
                                  {"device", dev},
                                  {"delivered_to", cfg.device.str()},
                                  {"hardware_threads", std::thread::hardware_concurrency()},
                                  {"synthetic_shards", synthetic_shards},
                                  {"transform", "random crop " + std::to_string(cfg.crop) + " + h/v flips, f32, bands concatenated"},
                                  {"batch", cfg.batch},
                                  {"prefetch", cfg.prefetch},
                                  {"results", results}};
      write_file_atomically(json_path, doc.dump(2) + "\n");
      std::printf("wrote %s\n", json_path.c_str());
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "loader_bench: error: %s\n", e.what());
    rc = 1;
  }
  if (!made.empty() && data_dir.empty() && !keep) {  // only a temporary folder this run made
    std::error_code ec;
    std::filesystem::remove_all(made, ec);
  }
  return rc;
}
