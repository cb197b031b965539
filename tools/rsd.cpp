// The rsd command line. Subcommands: pretrain (self-supervised pretraining from a TOML config),
// embed, export-weights and eval (downstream use of a checkpoint's encoders: embeddings, weights
// for PyTorch, linear / k-NN / segmentation probes), demo (a small supervised
// CNN on a synthetic toy task), devices (what this build and machine can run on), pack (a dataset into shards), info (what a
// shard, dataset, folder or GeoTIFF holds; --verify checks every checksum), make-synthetic
// (shards of random data for benchmarks). `rsd --help` and `rsd SUB --help` list options.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "engine/atomic_file.h"
#include "engine/device.h"
#include "engine/error.h"
#include "tools/downstream/embed_cli.h"
#include "tools/downstream/eval_cli.h"
#include "tools/info.h"
#include "tools/pack.h"
#include "tools/pretrain/config.h"
#include "tools/pretrain/trainer.h"
#include "tools/progress.h"
#include "tools/synthetic_shards.h"
#include "tools/toy_training.h"

namespace {

struct DemoOptions {
  rsd::tools::ToyTrainingConfig config;
  std::string device = "cpu";  // the CPU demo is the main job until pretraining lands
  std::string metrics_path;
};

int run_demo(DemoOptions& opt) {
  opt.config.device = rsd::parse_device(opt.device);
  std::printf("rsd demo: a small CNN learns the SYNTHETIC bars task (%d bands, %dx%d) on %s, %d steps of batch %d\n",
              opt.config.bands, opt.config.image_size, opt.config.image_size, opt.config.device.str().c_str(),
              opt.config.steps, opt.config.batch);
  nlohmann::json::array_t metrics;
  rsd::tools::ProgressBar bar("train", opt.config.steps);
  opt.config.on_step = [&](int step, double loss, double lr) {
    metrics.push_back({{"step", step}, {"loss", loss}, {"lr", lr}});
    char status[64];
    std::snprintf(status, sizeof status, "loss %.4f lr %.4f", loss, lr);
    bar.update(step + 1, status);
  };
  const rsd::tools::ToyTrainingResult r = rsd::tools::train_toy_classifier(opt.config);
  char status[64];
  std::snprintf(status, sizeof status, "loss %.4f", r.final_loss);
  bar.finish(status);
  std::printf("parameters: %lld\nfinal loss (mean of last 10 steps): %.4f\nheld-out accuracy: %.1f%%\n"
              "raw allocations after warm-up: %lld\n",
              static_cast<long long>(r.parameters), r.final_loss, 100.0 * r.eval_accuracy,
              static_cast<long long>(r.steady_state_raw_allocs));
  if (!opt.metrics_path.empty()) {
    std::string lines;
    for (const auto& m : metrics) lines += m.dump() + "\n";
    rsd::write_file_atomically(opt.metrics_path, lines);
    std::printf("metrics: %s (JSON lines)\n", opt.metrics_path.c_str());
  }
  return 0;
}

struct PretrainCommand {
  std::string config_path;
  std::vector<std::string> overrides;
  std::string device;
  std::string resume;
  bool resume_given = false;
  std::string init;
  bool init_partial = false;
  bool overwrite = false;
  std::string out_dir;
};

int run_pretrain(const PretrainCommand& cmd) {
  std::vector<std::string> overrides = cmd.overrides;
  if (!cmd.device.empty()) overrides.push_back("device=" + cmd.device);
  if (!cmd.out_dir.empty()) overrides.push_back("log.out_dir=" + cmd.out_dir);
  const rsd::tools::PretrainConfig config = rsd::tools::load_pretrain_config(cmd.config_path, overrides);
  rsd::tools::PretrainRunOptions options;
  if (cmd.resume_given) options.resume = cmd.resume.empty() ? config.log.out_dir + "/checkpoints" : cmd.resume;
  options.init = cmd.init;
  options.init_partial = cmd.init_partial;
  options.overwrite = cmd.overwrite;
  const rsd::tools::PretrainResult r = rsd::tools::run_pretrain(config, options);
  if (r.rank != 0) return 0;  // rank 0 reports for the job
  if (r.first_step == r.last_step) {
    std::printf("nothing to train: the run in %s is complete at step %lld of %lld; raise train.steps (--set "
                "train.steps=N) to continue it\n",
                r.out_dir.c_str(), static_cast<long long>(r.last_step), static_cast<long long>(r.total_steps));
    return 0;
  }
  const double first = r.losses.empty() ? 0.0 : r.losses.front(), last = r.losses.empty() ? 0.0 : r.losses.back();
  std::printf("trained steps %lld..%lld of %lld on %s: loss %.4f -> %.4f, %.1f samples/s\n",
              static_cast<long long>(r.first_step), static_cast<long long>(r.last_step),
              static_cast<long long>(r.total_steps), r.device.c_str(), first, last, r.samples_per_s);
  std::printf("checkpoint: %s\nmetrics:    %s\n", r.checkpoint.c_str(), r.metrics.c_str());
  if (!r.plot.empty()) std::printf("loss curve: %s\n", r.plot.c_str());
  std::printf("config:     %s/config.toml (continue with: rsd pretrain --config %s --out %s --resume)\n",
              r.out_dir.c_str(), cmd.config_path.c_str(), r.out_dir.c_str());
  return 0;
}

int run_devices() {
  std::printf("CUDA backend compiled: %s\n", rsd::cuda_compiled() ? "yes" : "no");
  const int n = rsd::cuda_device_count();
  if (n == 0) {
    std::printf("GPUs: none (%s); everything runs on the CPU backend\n", rsd::cuda_unavailable_reason().c_str());
  } else {
    std::printf("GPUs: %d (use --device cuda:N)\n", n);
  }
  return 0;
}

int default_threads() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

void print_pack_result(const rsd::tools::PackResult& r, bool skip_bad) {
  std::printf("packed %lld samples into %zu shard(s), %lld bytes per record\nindex: %s\n",
              static_cast<long long>(r.packed), r.shards.size(), static_cast<long long>(r.record_bytes),
              r.index_path.c_str());
  if (skip_bad) {
    std::printf("skipped %zu bad sample(s); report: %s\n", r.skipped.size(), r.skipped_report.c_str());
    for (size_t i = 0; i < r.skipped.size() && i < 5; ++i)
      std::printf("  %s: %s\n", r.skipped[i].id.c_str(), r.skipped[i].error.c_str());
  }
}

int run_pack(const rsd::tools::PackCommand& command) {
  const rsd::tools::PackResult r = rsd::tools::pack_dataset(command);
  print_pack_result(r, command.skip_bad);
  return 0;
}

int run_info(const std::string& path, bool verify) {
  rsd::tools::InfoOptions options;
  options.verify = verify;
  const rsd::tools::InfoResult r = rsd::tools::describe_path(path, options);
  std::fputs(r.text.c_str(), stdout);
  if (r.ok()) return 0;
  std::fprintf(stderr, "rsd info: %zu corrupted record(s) in %s (see above)\n", r.corrupted.size(), path.c_str());
  return 2;
}

int run_make_synthetic(const rsd::tools::SyntheticShardsConfig& config) {
  std::printf("rsd make-synthetic: %lld SYNTHETIC samples of %d bands, %dx%d (random values, not imagery)\n",
              static_cast<long long>(config.samples), config.bands, config.size, config.size);
  const rsd::tools::PackResult r = rsd::tools::make_synthetic_shards(config);
  print_pack_result(r, false);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rsd: self-supervised pretraining of Sentinel-1/Sentinel-2 encoders (C++/CUDA, no framework)"};
  app.set_version_flag("--version", "rsd 0.1.0");
  app.require_subcommand(1);

  PretrainCommand pretrain;
  bool config_keys = false;
  CLI::App* pretrain_cmd = app.add_subcommand(
      "pretrain", "Self-supervised pretraining (byol, dual-contrastive, simclr) from a TOML config: progress, "
                  "JSON-lines metrics, checkpoints, resume. See configs/ and --config-keys");
  pretrain_cmd->add_option("--config", pretrain.config_path, "The TOML config (configs/demo.toml, configs/byol.toml, ...)");
  pretrain_cmd->add_option("--set", pretrain.overrides, "Override a key: --set train.lr=0.1 (repeatable)");
  pretrain_cmd->add_option("--device", pretrain.device, "auto (a GPU when present), cpu, cuda or cuda:N (default: the config's)");
  pretrain_cmd->add_option("--out", pretrain.out_dir, "Output folder (default: the config's log.out_dir)");
  CLI::Option* resume_opt = pretrain_cmd->add_option(
      "--resume", pretrain.resume, "Continue from a checkpoint file or folder; without a value, the newest in OUT/checkpoints");
  resume_opt->expected(0, 1);
  pretrain_cmd->add_option("--init", pretrain.init,
                           "Start a new run from the weights of a safetensors file (a checkpoint, an exported encoder, "
                           "torchvision names); a file of another architecture is refused");
  pretrain_cmd->add_flag("--init-partial", pretrain.init_partial,
                         "With --init: load only the tensors whose names and shapes fit, and report the rest");
  pretrain_cmd->add_flag("--overwrite", pretrain.overwrite,
                         "Delete the run the output folder holds (config, metrics, plot, checkpoints), then start fresh; "
                         "without it a folder holding a run is refused (continue it with --resume)");
  pretrain_cmd->add_flag("--config-keys", config_keys, "List every config key with its type, default and meaning");

  DemoOptions demo;
  CLI::App* demo_cmd = app.add_subcommand("demo", "Train a small CNN on a synthetic toy task (the CPU training demo)");
  demo_cmd->add_option("--steps", demo.config.steps, "Training steps")->check(CLI::PositiveNumber)->capture_default_str();
  demo_cmd->add_option("--batch", demo.config.batch, "Batch size")->check(CLI::Range(2, 4096))->capture_default_str();
  demo_cmd->add_option("--lr", demo.config.lr, "Peak learning rate (warm-up then cosine)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  demo_cmd->add_option("--seed", demo.config.seed, "Seed of the data and the initialization")->capture_default_str();
  demo_cmd->add_option("--device", demo.device, "auto (a GPU when present), cpu, cuda or cuda:N")->capture_default_str();
  demo_cmd->add_option("--metrics", demo.metrics_path, "Write per-step metrics as JSON lines to this file");

  app.add_subcommand("devices", "Show whether this build has CUDA and which GPUs it sees");

  rsd::tools::PackCommand pack;
  pack.threads = default_threads();
  CLI::App* pack_cmd = app.add_subcommand(
      "pack", "Convert a dataset (SEN12MS, SSL4EO-S12, BigEarthNet-MM, TerraMesh, CSV, EuroSAT-MS, Sen1Floods11, "
              "DFC2020, folder) into checksummed, memory-mappable shards and dataset.json in OUT (needs GDAL)");
  pack_cmd->add_option("SRC", pack.src, "The dataset folder (or CSV manifest)")->required();
  pack_cmd->add_option("OUT", pack.out, "The output folder (made; must not hold a dataset already)")->required();
  pack_cmd->add_option("--layout", pack.layout,
                       "sen12ms, ssl4eo-s12, bigearthnet-mm, terramesh, csv, eurosat-ms, sen1floods11, dfc2020 or "
                       "folder (default: detected)");
  pack_cmd->add_option("--s2-level", pack.s2_level, "L1C or L2A where the source holds both (default: L1C if present)")
      ->check(CLI::IsMember({"L1C", "L2A", "l1c", "l2a"}));
  pack_cmd->add_option("--records-per-shard", pack.records_per_shard, "Records per shard (default: about 1 GiB a shard)")
      ->check(CLI::PositiveNumber);
  pack_cmd->add_flag("--skip-bad", pack.skip_bad,
                     "Skip samples that cannot be read, count them and list them in OUT/skipped.json (default: the "
                     "first bad sample stops the pack and nothing is left in OUT)");
  pack_cmd->add_option("--threads", pack.threads, "Threads reading samples")->check(CLI::PositiveNumber)
      ->capture_default_str();

  std::string info_path;
  bool info_verify = false;
  CLI::App* info_cmd = app.add_subcommand(
      "info", "Summarize a shard (.rsd), a packed dataset (dataset.json or its folder), a dataset folder or a GeoTIFF");
  info_cmd->add_option("PATH", info_path, "What to describe")->required();
  info_cmd->add_flag("--verify", info_verify,
                     "Check every record's CRC32C; exit with status 2 naming the shard and records if any is corrupt");

  rsd::tools::SyntheticShardsConfig synthetic;
  synthetic.threads = default_threads();
  CLI::App* synthetic_cmd = app.add_subcommand(
      "make-synthetic", "Write shards of SYNTHETIC random data (labelled so) for the loader benchmark");
  synthetic_cmd->add_option("OUT", synthetic.out, "The output folder")->required();
  synthetic_cmd->add_option("--samples", synthetic.samples, "Number of samples")->check(CLI::PositiveNumber)
      ->capture_default_str();
  synthetic_cmd->add_option("--bands", synthetic.bands, "Bands: the first 13 are S2, then VV, VH")
      ->check(CLI::Range(1, 15))->capture_default_str();
  synthetic_cmd->add_option("--size", synthetic.size, "Height and width")->check(CLI::PositiveNumber)
      ->capture_default_str();
  synthetic_cmd->add_option("--records-per-shard", synthetic.records_per_shard,
                            "Records per shard (default: about 1 GiB a shard)")->check(CLI::PositiveNumber);
  synthetic_cmd->add_option("--seed", synthetic.seed, "Seed of the random values")->capture_default_str();
  synthetic_cmd->add_option("--threads", synthetic.threads, "Threads making samples")->check(CLI::PositiveNumber)
      ->capture_default_str();

  // Downstream commands run from their CLI11 callbacks, inside parse(): rsd::Error is caught below.
  rsd::tools::add_embed_command(app);
  rsd::tools::add_export_weights_command(app);
  rsd::tools::add_eval_command(app);

  try {
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return app.exit(e);
    }
    for (const char* ran : {"embed", "export-weights", "eval"})
      if (app.got_subcommand(ran)) return 0;
    if (app.got_subcommand("pretrain")) {
      if (config_keys) {
        std::fputs(rsd::tools::pretrain_config_help().c_str(), stdout);
        return 0;
      }
      if (pretrain.config_path.empty()) {
        std::fprintf(stderr, "rsd pretrain: --config FILE is required (try configs/demo.toml; --config-keys lists the keys)\n");
        return 2;
      }
      pretrain.resume_given = resume_opt->count() > 0;
      return run_pretrain(pretrain);
    }
    if (app.got_subcommand("demo")) return run_demo(demo);
    if (app.got_subcommand("pack")) return run_pack(pack);
    if (app.got_subcommand("info")) return run_info(info_path, info_verify);
    if (app.got_subcommand("make-synthetic")) return run_make_synthetic(synthetic);
    return run_devices();
  } catch (const rsd::Error& e) {
    std::fprintf(stderr, "rsd: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "rsd: error: out of memory; lower train.batch_size, the view size or the number of workers\n");
    return 1;
  } catch (const std::exception& e) {
    // Every failure rsd foresees is an rsd::Error naming its file or cause; anything else is a bug
    // in rsd, reported as one rather than left to std::terminate.
    std::fprintf(stderr, "rsd: internal error (a bug in rsd; please report it with the command line): %s\n", e.what());
    return 1;
  }
}
