// The rsd command line. Subcommands: demo (the CPU training demo; pretraining joins later),
// devices (what this build and machine can run on). `rsd --help` and `rsd SUB --help` list options.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/atomic_file.h"
#include "engine/device.h"
#include "engine/error.h"
#include "tools/toy_training.h"
#include "tools/progress.h"

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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rsd: self-supervised pretraining of Sentinel-1/Sentinel-2 encoders (C++/CUDA, no framework)"};
  app.set_version_flag("--version", "rsd 0.1.0");
  app.require_subcommand(1);

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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (app.got_subcommand("demo")) return run_demo(demo);
    return run_devices();
  } catch (const rsd::Error& e) {
    std::fprintf(stderr, "rsd: error: %s\n", e.what());
    return 1;
  }
}
