// `rsd pretrain`: self-supervised pretraining from a TOML config (models/pretrain/).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "models/pretrain/config.h"
#include "models/pretrain/trainer.h"
#include "tools/commands/commands.h"

namespace rsd::commands {

namespace {

struct PretrainArgs {
  std::string config_path;
  std::vector<std::string> overrides;
  std::string device;
  std::string resume;
  bool resume_given = false;
  std::string init;
  bool init_partial = false;
  bool overwrite = false;
  std::string out_dir;
  bool config_keys = false;
};

void run_pretrain(const PretrainArgs& args) {
  std::vector<std::string> overrides = args.overrides;
  if (!args.device.empty()) overrides.push_back("device=" + args.device);
  if (!args.out_dir.empty()) overrides.push_back("log.out_dir=" + args.out_dir);
  const pretrain::PretrainConfig config = pretrain::load_pretrain_config(args.config_path, overrides);
  pretrain::PretrainRunOptions options;
  if (args.resume_given) options.resume = args.resume.empty() ? config.log.out_dir + "/checkpoints" : args.resume;
  options.init = args.init;
  options.init_partial = args.init_partial;
  options.overwrite = args.overwrite;
  const pretrain::PretrainResult r = pretrain::run_pretrain(config, options);
  if (r.rank != 0) return;  // rank 0 reports for the job
  if (r.first_step == r.last_step) {
    std::printf(
        "nothing to train: the run in %s is complete at step %lld of %lld; raise train.steps (--set "
        "train.steps=N) to continue it\n",
        r.out_dir.c_str(), static_cast<long long>(r.last_step), static_cast<long long>(r.total_steps));
    return;
  }
  const double first = r.losses.empty() ? 0.0 : r.losses.front(), last = r.losses.empty() ? 0.0 : r.losses.back();
  std::printf("trained steps %lld..%lld of %lld on %s: loss %.4f -> %.4f, %.1f samples/s\n",
              static_cast<long long>(r.first_step), static_cast<long long>(r.last_step),
              static_cast<long long>(r.total_steps), r.device.c_str(), first, last, r.samples_per_s);
  std::printf("checkpoint: %s\nmetrics:    %s\n", r.checkpoint.c_str(), r.metrics.c_str());
  if (!r.plot.empty()) std::printf("loss curve: %s\n", r.plot.c_str());
  std::printf("config:     %s/config.toml (continue with: rsd pretrain --config %s --out %s --resume)\n",
              r.out_dir.c_str(), args.config_path.c_str(), r.out_dir.c_str());
}

}  // namespace

void add_pretrain_command(CLI::App& app) {
  auto a = std::make_shared<PretrainArgs>();
  CLI::App* cmd =
      app.add_subcommand("pretrain",
                         "Self-supervised pretraining (byol, dual-contrastive, simclr) from a TOML config: progress, "
                         "JSON-lines metrics, checkpoints, resume. See configs/ and --config-keys");
  cmd->add_option("--config", a->config_path, "The TOML config (configs/demo.toml, configs/byol.toml, ...)");
  cmd->add_option("--set", a->overrides, "Override a key: --set train.lr=0.1 (repeatable)");
  cmd->add_option("--device", a->device, "auto (a GPU when present), cpu, cuda or cuda:N (default: the config's)");
  cmd->add_option("--out", a->out_dir, "Output folder (default: the config's log.out_dir)");
  CLI::Option* resume =
      cmd->add_option("--resume", a->resume,
                      "Continue from a checkpoint file or folder; without a value, the newest in OUT/checkpoints");
  resume->expected(0, 1);
  cmd->add_option("--init", a->init,
                  "Start a new run from the weights of a safetensors file (a checkpoint, an exported encoder, "
                  "torchvision names); a file of another architecture is refused");
  cmd->add_flag("--init-partial", a->init_partial,
                "With --init: load only the tensors whose names and shapes fit, and report the rest");
  cmd->add_flag("--overwrite", a->overwrite,
                "Delete the run the output folder holds (config, metrics, plot, checkpoints), then start fresh; "
                "without it a folder holding a run is refused (continue it with --resume)");
  cmd->add_flag("--config-keys", a->config_keys, "List every config key with its type, default and meaning");
  cmd->callback([a, resume] {
    if (a->config_keys) {
      std::fputs(pretrain::pretrain_config_help().c_str(), stdout);
      return;
    }
    if (a->config_path.empty()) {
      std::fprintf(stderr,
                   "rsd pretrain: --config FILE is required (try configs/demo.toml; --config-keys lists the keys)\n");
      throw CLI::RuntimeError(2);
    }
    a->resume_given = resume->count() > 0;
    run_pretrain(*a);
  });
}

}  // namespace rsd::commands
