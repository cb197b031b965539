#include "models/pretrain/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

#include "data/loader.h"
#include "data/sampler.h"
#include "engine/allocator.h"
#include "engine/atomic_file.h"
#include "engine/checkpoint.h"
#include "engine/comm/communicator.h"
#include "engine/device.h"
#include "engine/gpu_options.h"
#include "engine/output_preflight.h"
#include "engine/progress.h"
#include "engine/threads.h"
#include "models/plot/line_plot.h"
#include "models/pretrain/collapse_monitors.h"
#include "models/pretrain/method_factory.h"
#include "models/pretrain/metrics_log.h"
#include "models/pretrain/optimization.h"
#include "models/pretrain/pretrain_data.h"
#include "models/pretrain/run_checkpoint.h"
#include "models/pretrain/run_folder.h"

namespace rsd::pretrain {

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
  void add(const StepResult& r) {
    if (std::isfinite(r.loss)) {
      loss += r.loss;
      grad_norm += r.grad_norm;
      ++finite;
    }
    ++steps;
  }
  void add_time(double s, int64_t n) {
    seconds += s;
    samples += n;
  }
};

// The device of this rank: config.device, except that "auto" and "cuda" mean the GPU of the
// rank's local rank in a job of several processes.
Device rank_device(const std::string& name, const comm::LaunchInfo& launch) {
  const Device d = parse_device(name);
  if (launch.world_size == 1 || !d.is_cuda() || name.rfind("cuda:", 0) == 0) return d;
  // A launcher that binds one GPU per task (srun --gpus-per-task) leaves each rank one device.
  if (cuda_device_count() == 1) return Device::cuda(0);
  RSD_CHECK(launch.local_rank < cuda_device_count(), launch.describe(), " needs GPU ", launch.local_rank,
            " (its local rank) but this node shows ", cuda_device_count(), " GPUs; start one rank per GPU");
  return Device::cuda(launch.local_rank);
}

// Every rank starts from rank 0's weights, buffers and method state (BYOL's target network).
void broadcast_model(models::SslMethod& method, comm::Communicator& c) {
  for (Parameter* p : method.params().parameters()) c.broadcast(p->value, 0);
  for (const auto& [name, t] : method.params().buffers()) {
    Tensor shared = t;  // a handle to the registry's storage
    c.broadcast(shared, 0);
  }
  for (auto& [name, t] : method.extra_state()) c.broadcast(t, 0);
}

PretrainResult run_on_rank(const PretrainConfig& config, const PretrainRunOptions& options, comm::Communicator& comm,
                           Device device);

}  // namespace

PretrainResult run_pretrain(const PretrainConfig& config, const PretrainRunOptions& options) {
  const comm::LaunchInfo launch = comm::detect_launch();
  const Device device = rank_device(config.device, launch);
  comm::CommOptions co;
  co.backend = config.distributed.backend;
  co.timeout_seconds = config.distributed.timeout_s;
  std::unique_ptr<comm::Communicator> comm = comm::make_communicator(launch, device, co);
  if (comm->backend() == "single") return run_on_rank(config, options, *comm, device);
  // A rank that fails ends the job on every rank (instead of leaving them waiting in a collective).
  try {
    return run_on_rank(config, options, *comm, device);
  } catch (const std::exception& e) {
    comm->abort(str_cat("rsd pretrain failed: ", e.what()));
    throw;  // not reached: abort ends the process
  }
}

namespace {

// --resume, --init and --overwrite: at most one way to start.
RunStart run_start(const PretrainRunOptions& options) {
  RSD_CHECK(options.resume.empty() || options.init.empty(), "--init ", options.init, " and --resume ", options.resume,
            " do not go together: --resume continues a run with its own weights; --init starts a new run from "
            "given weights (give one)");
  RSD_CHECK(options.resume.empty() || !options.overwrite, "--resume and --overwrite do not go together: --resume "
            "continues the run in the folder, --overwrite deletes it (give one)");
  RSD_CHECK(!options.init_partial || !options.init.empty(), "--init-partial needs --init WEIGHTS");
  if (!options.resume.empty()) return RunStart::resume;
  return options.overwrite ? RunStart::overwrite : RunStart::fresh;
}

// Bytes of one checkpoint of this run: every tensor it saves (the sidecar is small).
uint64_t checkpoint_bytes(const models::SslMethod& method, const Optimizer& optimizer) {
  uint64_t bytes = 0;
  for (const Parameter* p : method.params().parameters()) bytes += p->value.nbytes();
  for (const auto& [name, t] : method.params().buffers()) bytes += t.nbytes();
  for (const auto& [name, t] : method.extra_state()) bytes += t.nbytes();
  for (const auto& [name, t] : optimizer.state()) bytes += t.nbytes();
  return bytes + (uint64_t{1} << 20);
}

// What to do after a checkpoint refused non-finite tensors.
[[noreturn]] void diverged(const NonFiniteError& e, int64_t step) {
  fail(e.what(), ". Training diverged by step ", step, " (weights, batch-norm statistics or optimizer state are "
       "no longer finite); the run stops here. Resume from the last good checkpoint with a lower train.lr, or set "
       "train.grad_clip, or use more warm-up (train.warmup_fraction)");
}

PretrainResult run_on_rank(const PretrainConfig& config, const PretrainRunOptions& options, comm::Communicator& comm,
                           Device device) {
  check_pretrain_paths(config);
  const RunStart start = run_start(options);
  const DType dtype = compute_dtype(config.train.precision, device);
  GpuMathOptions gpu_math;
  gpu_math.deterministic = config.train.deterministic;
  gpu_math.tf32 = config.train.tf32;
  gpu_math.cudnn_workspace_bytes = static_cast<size_t>(config.train.cudnn_workspace_mb) << 20;
  set_gpu_math_options(gpu_math);
  const int world = comm.world_size();
  const bool distributed = comm.backend() != "single";  // NCCL with one rank included
  const bool lead = comm.rank() == 0;  // rank 0 writes files and talks to the terminal
  const bool quiet = options.quiet || !lead;
  RSD_CHECK(config.train.batch_size % world == 0, "train.batch_size = ", config.train.batch_size,
            " is the global batch and must divide evenly over the ", world, " ranks of this job; use a multiple of ",
            world);
  const int64_t local_batch = config.train.batch_size / world;
  PretrainResult result;
  result.device = device.str();
  result.out_dir = config.log.out_dir;
  result.rank = comm.rank();
  result.world_size = world;
  // Everything that can refuse the run is checked before any compute: the folder and its rules,
  // the checkpoint to resume (its model against the config), the free space.
  if (lead) prepare_run_folder(config.log.out_dir, start, config.data.path, options.resume);
  std::optional<LoadedCheckpoint> ckpt;
  if (start == RunStart::resume) ckpt.emplace(load_checkpoint(options.resume));

  const PretrainData data = open_pretrain_data(config);
  if (ckpt) check_resume_config(*ckpt, config, data);
  const data::RankSplit split{comm.rank(), world};
  const int64_t batches_per_epoch = data::samples_per_rank(data.source->size(), split) / local_batch;
  RSD_CHECK(batches_per_epoch > 0, config.data.path, " gives ", data.source->size(), " samples per epoch (",
            data.distinct_samples, " x data.repeat = ", config.data.repeat, "), fewer than train.batch_size = ",
            config.train.batch_size, "; raise data.repeat or lower train.batch_size");
  const int64_t total = total_steps_of(config, batches_per_epoch);
  result.total_steps = total;
  RSD_CHECK(!ckpt || ckpt->step <= total, ckpt ? ckpt->path : "", " is at step ", ckpt ? ckpt->step : 0,
            ", past this config's last step (", total, " steps): nothing to train. Raise train.steps (e.g. --set "
            "train.steps=", ckpt ? 2 * ckpt->step : 0, ") to continue the run");

  std::unique_ptr<models::SslMethod> method = make_method(config, data.view_channels, device, total);
  if (distributed) method->set_communicator(&comm);
  std::unique_ptr<Optimizer> optimizer = make_optimizer(config.train, method->params());
  const WarmupCosine schedule = make_lr_schedule(config.train, total);
  StepOptions so;
  so.grad_accum = config.train.grad_accum;
  so.grad_clip = config.train.grad_clip;
  so.max_bad_steps = config.train.max_bad_steps;
  so.comm = &comm;
  so.bucket_bytes = static_cast<size_t>(config.distributed.bucket_mb * 1024 * 1024);
  so.sync_bn = config.distributed.sync_bn;
  TrainStep step_runner(*method, *optimizer, so);
  if (lead) {
    check_output_space(config.log.out_dir, "a checkpoint of this run", checkpoint_bytes(*method, *optimizer),
                       "its parameters, buffers and optimizer state");
  }

  RunCounters counters;
  if (ckpt) {
    counters = restore_run_checkpoint(*ckpt, *method, *optimizer);
    step_runner.set_counters(counters.bad_in_a_row, counters.skipped_total);
    if (!quiet) std::printf("resumed from %s at step %lld\n", ckpt->path.c_str(), static_cast<long long>(counters.step));
    ckpt.reset();  // closes the file
  } else if (!options.init.empty()) {
    const InitReport report = load_initial_weights(options.init, *method, options.init_partial);
    if (!quiet) std::printf("initialized from %s: %s\n", options.init.c_str(), report.summary().c_str());
  }
  // Nothing refused the run: its files start here (a refused start leaves the folder as it was).
  if (lead) write_file_atomically((fs::path(config.log.out_dir) / "config.toml").string(), to_toml(config));
  CheckpointDir checkpoints((fs::path(config.log.out_dir) / "checkpoints").string(), config.checkpoint.keep_last);
  if (distributed) broadcast_model(*method, comm);
  result.first_step = result.last_step = counters.step;

  data::LoaderOptions lo = pretrain_loader_options(config, data, device);
  lo.batch_size = local_batch;
  lo.split = split;
  const int64_t consumed = counters.step * config.train.grad_accum;
  lo.start_epoch = consumed / batches_per_epoch;
  lo.start_step = consumed % batches_per_epoch;
  data::Loader loader(data.source, pretrain_transform(data), lo);

  std::optional<MetricsLog> metrics;
  if (lead) {
    metrics.emplace((fs::path(config.log.out_dir) / "metrics.jsonl").string(), counters.step);
    result.metrics = metrics->path();
  }
  if (!quiet) {
    std::printf("rsd pretrain: %s on %s (%s), %s\n  data: %s\n  statistics: %s\n  %lld parameters, %lld steps of %lld samples\n",
                method->name(), device.str().c_str(), dtype_name(dtype), config.model.arch.c_str(), data.description.c_str(),
                data.statistics_origin.c_str(), static_cast<long long>(method->params().numel()),
                static_cast<long long>(total), static_cast<long long>(config.train.batch_size * config.train.grad_accum));
    std::printf("  CPU: %s\n", describe_cpu_compute().c_str());
    if (distributed) {
      std::printf("  data-parallel: %d ranks (%s backend, launched by %s), %lld samples per rank per step, "
                  "batch-norm statistics %s\n",
                  world, comm.backend().c_str(), comm.launch().source.c_str(), static_cast<long long>(local_batch),
                  config.distributed.sync_bn ? "over the global batch (sync_bn)" : "per rank");
    }
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
  const bool show_bar = config.log.progress && !quiet;
  Window window;
  const int64_t samples_per_step = config.train.batch_size * config.train.grad_accum;
  double run_seconds = 0;
  int64_t run_samples = 0;
  const int64_t stop = options.stop_after >= 0 ? std::min(total, options.stop_after) : total;
  // What a step's numbers feed: the counters, the log row, the bar, the checkpoint. On a GPU they
  // arrive one step late (TrainStep::enqueue / collect): step t + 1 is queued before step t is
  // read, so the device never waits for the host; log and checkpoint steps, and the last one, are
  // read at once.
  double last_seconds = 0;
  auto handle = [&](const StepResult& r) {
    const int64_t step = r.step;
    counters.step = step + 1;
    counters.bad_in_a_row = step_runner.bad_in_a_row();
    counters.skipped_total = step_runner.skipped_total();
    result.losses.push_back(r.loss);
    result.last_step = step + 1;
    window.add(r);
    if (options.on_step) options.on_step(step, r);
    if (step == result.first_step + 1 && !quiet) {
      // After two steps the plan is settled (algorithms chosen, arena at its footprint).
      const AllocatorStats pool = pool_for(device).stats(), arena = arena_for(device).stats();
      std::printf("  memory on %s: step peak %.0f MiB planned (pool %.0f MiB in use at most, step arena %.0f MiB live "
                  "at most), %.0f MiB held from the %s\n",
                  device.str().c_str(), static_cast<double>(pool.peak_bytes_in_use + arena.peak_bytes_in_use) / 1048576.0,
                  static_cast<double>(pool.peak_bytes_in_use) / 1048576.0,
                  static_cast<double>(arena.peak_bytes_in_use) / 1048576.0,
                  static_cast<double>(pool.bytes_reserved + arena.bytes_reserved) / 1048576.0,
                  device.is_cuda() ? "driver" : "system");
    }
    if (((step + 1) % config.log.every == 0 || step + 1 == total) && lead) {
      MetricsRow row{{"step", static_cast<double>(step + 1)}, {"epoch", static_cast<double>(epoch)},
                     {"loss", window.finite ? window.loss / static_cast<double>(window.finite) : NAN},
                     {"lr", schedule.lr(step)},
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
      metrics->write(row);
      window = Window{};
    }
    if (show_bar) {
      bar.update(step + 1, str_cat("loss ", fmt("%.4f", r.loss), " | ",
                                   fmt("%.1f", static_cast<double>(samples_per_step) / last_seconds), " samples/s"));
    }
    if (lead && ((step + 1) % config.checkpoint.every == 0 || step + 1 == total)) {
      try {
        result.checkpoint = checkpoints.save(make_run_checkpoint(*method, *optimizer, counters, config, data));
      } catch (const NonFiniteError& e) {
        diverged(e, step + 1);
      }
    }
  };
  const bool read_late = device.is_cuda();
  for (int64_t step = counters.step; step < stop; ++step) {
    const auto t0 = std::chrono::steady_clock::now();
    const bool log_now = (step + 1) % config.log.every == 0 || step + 1 == total;
    const bool checkpoint_now = (step + 1) % config.checkpoint.every == 0 || step + 1 == total;
    step_runner.enqueue(next_views, step, schedule.lr(step), log_now && lead);
    const bool read_now = !read_late || log_now || checkpoint_now || step + 1 == stop;
    std::vector<StepResult> done;
    while (std::optional<StepResult> r = step_runner.collect(!read_now)) done.push_back(std::move(*r));
    last_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (step > result.first_step) {  // the first step pays for cuDNN's algorithm search and warm-up
      run_seconds += last_seconds;
      run_samples += samples_per_step;
    }
    window.add_time(last_seconds, samples_per_step);
    for (const StepResult& r : done) handle(r);
  }
  if (show_bar) bar.finish(str_cat("loss ", fmt("%.4f", result.losses.empty() ? NAN : result.losses.back())));
  result.samples_per_s = run_seconds > 0 ? static_cast<double>(run_samples) / run_seconds : 0.0;
  if (lead && config.log.plot && result.last_step == total) {
    result.plot = (fs::path(config.log.out_dir) / "loss.png").string();
    plot::PlotSeries s;
    s.name = str_cat(method->name(), " loss");
    for (const auto& [x, y] : metrics->series("loss")) {
      s.x.push_back(x);
      s.y.push_back(y);
    }
    s.rgb = 0x1f77b4;
    plot::PlotOptions po;
    po.title = str_cat("rsd pretrain: ", method->name(), ", ", config.model.arch, ", batch ", samples_per_step);
    po.x_label = "step";
    po.y_label = "loss";
    plot::write_line_plot_png(result.plot, {s}, po);
  }
  comm.barrier();  // rank 0's last checkpoint is on disk before any rank reports success
  return result;
}

}  // namespace

}  // namespace rsd::pretrain
