#include "tools/pretrain/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "data/loader.h"
#include "engine/atomic_file.h"
#include "engine/checkpoint.h"
#include "engine/device.h"
#include "tools/line_plot.h"
#include "tools/pretrain/collapse_monitors.h"
#include "tools/pretrain/method_factory.h"
#include "tools/pretrain/metrics_log.h"
#include "tools/pretrain/optimization.h"
#include "tools/pretrain/pretrain_data.h"
#include "tools/pretrain/run_checkpoint.h"
#include "tools/progress.h"

namespace rsd::tools {

namespace fs = std::filesystem;

namespace {

DType compute_dtype(const std::string& precision, Device device) {
  if (precision == "fp32") return DType::f32;
  if (precision == "bf16") {
    RSD_CHECK(device.is_cuda(), "train.precision = \"bf16\" needs a GPU; the CPU backend computes in fp32 (use ",
              "precision = \"auto\" or \"fp32\")");
    return DType::bf16;
  }
  RSD_CHECK(precision == "auto", "train.precision must be auto, fp32 or bf16, got '", precision, "'");
  return device.is_cuda() ? DType::bf16 : DType::f32;
}

int64_t total_steps_of(const PretrainConfig& c, int64_t batches_per_epoch) {
  if (c.train.steps > 0) return c.train.steps;
  const int64_t per_epoch = batches_per_epoch / c.train.grad_accum;
  RSD_CHECK(per_epoch > 0, "an epoch of ", batches_per_epoch, " batches makes no optimizer step with grad_accum = ",
            c.train.grad_accum, "; lower train.grad_accum or raise data.repeat");
  return c.train.epochs * per_epoch;
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// Sums over the steps between two log rows.
struct Window {
  double loss = 0, grad_norm = 0, seconds = 0;
  int64_t steps = 0, finite = 0, samples = 0;
  void add(const StepResult& r, double s, int64_t n) {
    if (std::isfinite(r.loss)) {
      loss += r.loss;
      grad_norm += r.grad_norm;
      ++finite;
    }
    seconds += s;
    samples += n;
    ++steps;
  }
};

}  // namespace

PretrainResult run_pretrain(const PretrainConfig& config, const PretrainRunOptions& options) {
  check_pretrain_paths(config);
  const Device device = parse_device(config.device);  // "auto": the first GPU when there is one
  const DType dtype = compute_dtype(config.train.precision, device);
  PretrainResult result;
  result.device = device.str();
  result.out_dir = config.log.out_dir;
  fs::create_directories(config.log.out_dir);
  write_file_atomically((fs::path(config.log.out_dir) / "config.toml").string(), to_toml(config));

  const PretrainData data = open_pretrain_data(config);
  const int64_t batches_per_epoch = data.source->size() / config.train.batch_size;
  RSD_CHECK(batches_per_epoch > 0, config.data.path, " gives ", data.source->size(), " samples per epoch (",
            data.distinct_samples, " x data.repeat = ", config.data.repeat, "), fewer than train.batch_size = ",
            config.train.batch_size, "; raise data.repeat or lower train.batch_size");
  const int64_t total = total_steps_of(config, batches_per_epoch);
  result.total_steps = total;

  std::unique_ptr<models::SslMethod> method = make_method(config, data.view_channels, device, total);
  std::unique_ptr<Optimizer> optimizer = make_optimizer(config.train, method->params());
  const WarmupCosine schedule = make_lr_schedule(config.train, total);
  StepOptions so;
  so.grad_accum = config.train.grad_accum;
  so.grad_clip = config.train.grad_clip;
  so.max_bad_steps = config.train.max_bad_steps;
  TrainStep step_runner(*method, *optimizer, so);

  CheckpointDir checkpoints((fs::path(config.log.out_dir) / "checkpoints").string(), config.checkpoint.keep_last);
  RunCounters counters;
  if (!options.resume.empty()) {
    const LoadedCheckpoint ckpt = load_checkpoint(options.resume);
    counters = restore_run_checkpoint(ckpt, *method, *optimizer);
    step_runner.set_counters(counters.bad_in_a_row, counters.skipped_total);
    if (!options.quiet) std::printf("resumed from %s at step %lld\n", ckpt.path.c_str(), static_cast<long long>(counters.step));
  } else if (!options.init.empty()) {
    const int64_t n = load_initial_weights(options.init, *method);
    if (!options.quiet) std::printf("initialized %lld tensors from %s\n", static_cast<long long>(n), options.init.c_str());
  }
  result.first_step = result.last_step = counters.step;

  data::LoaderOptions lo = pretrain_loader_options(config, data, device);
  const int64_t consumed = counters.step * config.train.grad_accum;
  lo.start_epoch = consumed / batches_per_epoch;
  lo.start_step = consumed % batches_per_epoch;
  data::Loader loader(data.source, pretrain_transform(data), lo);

  MetricsLog metrics((fs::path(config.log.out_dir) / "metrics.jsonl").string(), counters.step);
  result.metrics = metrics.path();
  if (!options.quiet) {
    std::printf("rsd pretrain: %s on %s (%s), %s\n  data: %s\n  statistics: %s\n  %lld parameters, %lld steps of %lld samples\n",
                method->name(), device.str().c_str(), dtype_name(dtype), config.model.arch.c_str(), data.description.c_str(),
                data.statistics_origin.c_str(), static_cast<long long>(method->params().numel()),
                static_cast<long long>(total), static_cast<long long>(config.train.batch_size * config.train.grad_accum));
  }

  std::optional<data::Batch> batch;
  int64_t epoch = lo.start_epoch;
  auto next_views = [&]() {
    batch.reset();
    batch = loader.next();
    RSD_CHECK(batch.has_value(), "the loader ended before the last step");
    epoch = batch->epoch;
    return split_views(batch->images, data, dtype);
  };

  ProgressBar bar("pretrain", total, counters.step);
  const bool show_bar = config.log.progress && !options.quiet;
  Window window;
  const int64_t samples_per_step = config.train.batch_size * config.train.grad_accum;
  double run_seconds = 0;
  int64_t run_samples = 0;
  const int64_t stop = options.stop_after >= 0 ? std::min(total, options.stop_after) : total;
  for (int64_t step = counters.step; step < stop; ++step) {
    const auto t0 = std::chrono::steady_clock::now();
    const bool log_now = (step + 1) % config.log.every == 0 || step + 1 == total;
    const double lr = schedule.lr(step);
    StepResult r = step_runner.run(next_views, step, lr, log_now);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    counters.step = step + 1;
    counters.bad_in_a_row = step_runner.bad_in_a_row();
    counters.skipped_total = step_runner.skipped_total();
    result.losses.push_back(r.loss);
    result.last_step = step + 1;
    if (step > result.first_step) {  // the first step pays for cuDNN's algorithm search and warm-up
      run_seconds += seconds;
      run_samples += samples_per_step;
    }
    window.add(r, seconds, samples_per_step);
    if (options.on_step) options.on_step(step, r);
    if (log_now) {
      MetricsRow row{{"step", static_cast<double>(step + 1)}, {"epoch", static_cast<double>(epoch)},
                     {"loss", window.finite ? window.loss / static_cast<double>(window.finite) : NAN},
                     {"lr", lr},
                     {"grad_norm", window.finite ? window.grad_norm / static_cast<double>(window.finite) : NAN},
                     {"samples_per_s", static_cast<double>(window.samples) / window.seconds}};
      for (const auto& [k, v] : method->scalars(step)) row.emplace_back(k, v);
      if (!r.skipped && r.embedding.defined()) {
        const CollapseMonitors m = collapse_monitors(r.embedding);
        row.emplace_back("embedding_std", m.embedding_std);
        row.emplace_back("embedding_std_ideal", m.ideal_std);
        row.emplace_back("mean_offdiag_cosine", m.mean_offdiag_cosine);
      }
      row.emplace_back("skipped_steps", static_cast<double>(counters.skipped_total));
      metrics.write(row);
      window = Window{};
    }
    if (show_bar) {
      bar.update(step + 1, str_cat("loss ", fmt("%.4f", r.loss), " | ",
                                   fmt("%.1f", static_cast<double>(samples_per_step) / seconds), " samples/s"));
    }
    if ((step + 1) % config.checkpoint.every == 0 || step + 1 == total) {
      result.checkpoint = checkpoints.save(make_run_checkpoint(*method, *optimizer, counters, config, data));
    }
  }
  if (show_bar) bar.finish(str_cat("loss ", fmt("%.4f", result.losses.empty() ? NAN : result.losses.back())));
  result.samples_per_s = run_seconds > 0 ? static_cast<double>(run_samples) / run_seconds : 0.0;
  if (config.log.plot && result.last_step == total) {
    result.plot = (fs::path(config.log.out_dir) / "loss.png").string();
    PlotSeries s;
    s.name = str_cat(method->name(), " loss");
    for (const auto& [x, y] : metrics.series("loss")) {
      s.x.push_back(x);
      s.y.push_back(y);
    }
    s.rgb = 0x1f77b4;
    PlotOptions po;
    po.title = str_cat("rsd pretrain: ", method->name(), ", ", config.model.arch, ", batch ", samples_per_step);
    po.x_label = "step";
    po.y_label = "loss";
    write_line_plot_png(result.plot, {s}, po);
  }
  return result;
}

}  // namespace rsd::tools
