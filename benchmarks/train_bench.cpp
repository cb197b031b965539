// train_bench: samples/s of one self-supervised training step (forward, backward, optimizer,
// BYOL's EMA) per method and encoder, at a given batch and patch size, on the CPU or a GPU.
// The step is TrainStep (models/pretrain/train_step.h), the one `rsd pretrain` runs, on random
// views already on the device (the loader is measured by loader_bench). Same models, losses and
// optimizer as benchmarks/torch_ref/train_ref.py (SGD with momentum on both sides); bf16 compute
// on a GPU (fp32 master weights), fp32 on the CPU. Prints a table and writes JSON;
// benchmarks/compare.py prints rsd and PyTorch side by side.
//   train_bench --methods dual-contrastive --archs resnet50 --batch 256 --patch 128 --json train.json
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "benchmarks/bench_util.h"
#include "engine/allocator.h"
#include "engine/atomic_file.h"
#include "engine/ops/convert.h"
#include "engine/optim/sgd.h"
#include "engine/rng.h"
#include "engine/threads.h"
#include "models/pretrain/method_factory.h"
#include "models/pretrain/train_step.h"
#include "engine/shutdown.h"

using namespace rsd;

namespace {

struct Args {
  std::string methods = "byol,dual-contrastive,simclr";
  std::string archs = "resnet18,resnet50";
  std::string stem = "standard";
  int width = 64;
  int64_t batch = 256, patch = 128;
  int warmup = 5, runs = 20;
  std::string device = "auto";
  std::string json_path = "train_bench.json";
  bench::CpuOptions cpu;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(item);
  return out;
}

// The channels of each view, as the shipped S1/S2 data gives them: RS-BYOL single-channel views,
// S1 (VV, VH) and S2 (13 bands) for the dual encoder, 13-band S2 for SimCLR.
std::vector<int64_t> view_channels(const std::string& method) {
  if (method == "byol") return {1, 1};
  if (method == "dual-contrastive") return {2, 13};
  return {13, 13};
}

pretrain::PretrainConfig config_for(const Args& a, const std::string& method, const std::string& arch) {
  pretrain::PretrainConfig c =
      pretrain::parse_pretrain_config(str_cat("method = \"", method, "\"\n[data]\npath = \".\"\n[model]\narch = \"",
                                              arch, "\"\nstem = \"", a.stem, "\"\nwidth = ", a.width, "\n"),
                                      "<train_bench>");
  return c;
}

// The memory of one step, from the allocator: what the pool holds (weights, gradients, optimizer
// state, the cuDNN workspace, the views) plus the step arena's live peak (activations and
// temporaries). Both peaks are added, so it is an upper bound of the step's peak.
struct StepMemory {
  int64_t peak_bytes = 0, persistent_bytes = 0, activation_peak_bytes = 0;
  int64_t without_reuse_bytes = 0;  // the arena's figure if it never reused memory within a micro-batch
};

template <typename Step>
StepMemory measure_step_memory(Device device, Step&& run_step) {
  CachingPool& pool = pool_for(device);
  Arena& arena = arena_for(device);
  pool.reset_peak();
  arena.reset_peak();
  StepMemory m;
  m.persistent_bytes = pool.stats().bytes_in_use;
  run_step();
  synchronize(device);
  m.activation_peak_bytes = arena.stats().peak_bytes_in_use;
  m.without_reuse_bytes = arena.stats().bytes_handed_out;
  m.peak_bytes = pool.stats().peak_bytes_in_use + m.activation_peak_bytes;
  return m;
}

nlohmann::json bench_one(const Args& a, const std::string& method, const std::string& arch, Device device) {
  const pretrain::PretrainConfig c = config_for(a, method, arch);
  const DType dtype = device.is_cuda() ? DType::bf16 : DType::f32;
  auto m = pretrain::make_method(c, view_channels(method), device, 1000);
  SgdOptions so;
  so.momentum = 0.9;
  SGD opt(m->params().parameters(), so);
  pretrain::TrainStep step(*m, opt, pretrain::StepOptions{});
  // Random f32 views made once, outside the arena; each step casts them as the loader's would be.
  std::vector<Tensor> views;
  Generator gen(1);
  for (int64_t ch : view_channels(method)) {
    Tensor v = Tensor::empty({a.batch, a.patch, a.patch, ch}, DType::f32, device);
    gen.normal_(v, 0.0, 1.0);
    views.push_back(v);
  }
  auto next_views = [&] {
    std::vector<Tensor> out;
    for (const Tensor& v : views) out.push_back(cast(v, dtype));
    return out;
  };
  int64_t step_index = 0;
  const bench::Timing t = bench::time_runs(device, [&] { step.run(next_views, step_index++, 0.01); }, a.warmup, a.runs);
  const double sps = static_cast<double>(a.batch) / (t.median_ms / 1e3);
  const StepMemory mem = measure_step_memory(device, [&] { step.run(next_views, step_index++, 0.01); });
  std::printf("%-18s %-9s %5lld %5lld %10.2f %10.1f %10.1f %10.1f\n", method.c_str(), arch.c_str(),
              static_cast<long long>(a.batch), static_cast<long long>(a.patch), t.median_ms, sps,
              static_cast<double>(mem.peak_bytes) / (1 << 20), static_cast<double>(mem.activation_peak_bytes) / (1 << 20));
  return {{"op", method + "/" + arch}, {"shape", str_cat(a.batch, "x", a.patch, "x", a.patch)},
          {"dtype", device.is_cuda() ? "bf16" : "fp32"}, {"method", method}, {"arch", arch}, {"stem", a.stem}, {"width", a.width}, {"batch", a.batch},
          {"patch", a.patch}, {"precision", device.is_cuda() ? "bf16" : "fp32"}, {"median_ms", t.median_ms},
          {"min_ms", t.min_ms}, {"runs", t.runs}, {"samples_per_s", sps},
          {"parameters", m->params().numel()}, {"peak_bytes", mem.peak_bytes},
          {"persistent_bytes", mem.persistent_bytes}, {"activation_peak_bytes", mem.activation_peak_bytes},
          {"activations_without_reuse_bytes", mem.without_reuse_bytes}};
}

}  // namespace

int main(int argc, char** argv) {
  rsd::ShutdownAtExit shutdown_at_exit;  // ends the device state before static destruction (engine/shutdown.h)
  Args a;
  CLI::App app{"train_bench: samples/s of a training step per method and encoder"};
  app.add_option("--methods", a.methods, "Comma-separated: byol, dual-contrastive, simclr")->capture_default_str();
  app.add_option("--archs", a.archs, "Comma-separated: resnet18, resnet34, resnet50")->capture_default_str();
  app.add_option("--stem", a.stem, "standard or small-patch")->capture_default_str();
  app.add_option("--width", a.width, "Base width (64 = torchvision; the PyTorch twin supports 64 only)")
      ->capture_default_str();
  app.add_option("--batch", a.batch, "Samples per step")->capture_default_str();
  app.add_option("--patch", a.patch, "Height and width of the views")->capture_default_str();
  app.add_option("--warmup", a.warmup, "Untimed steps first")->capture_default_str();
  app.add_option("--runs", a.runs, "Timed steps (the median is reported)")->capture_default_str();
  app.add_option("--device", a.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  app.add_option("--json", a.json_path, "Where to write the results")->capture_default_str();
  bench::add_cpu_options(app, a.cpu);
  CLI11_PARSE(app, argc, argv);
  try {
    const Device device = parse_device(a.device);
    std::optional<CpuBackendScope> cpu_backend;
    bench::apply_cpu_options(a.cpu, cpu_backend);
    std::printf("train_bench on %s\n%-18s %-9s %5s %5s %10s %10s %10s %10s\n", bench::device_name(device).c_str(),
                "method", "arch", "batch", "patch", "median ms", "samples/s", "peak MiB", "act. MiB");
    nlohmann::json rows = nlohmann::json::array();
    for (const std::string& method : split(a.methods))
      for (const std::string& arch : split(a.archs)) rows.push_back(bench_one(a, method, arch, device));
    const nlohmann::json doc = {{"benchmark", "train"},      {"implementation", "rsd"},
                                {"device", bench::device_name(device)}, {"threads", thread_budget()},
                                {"results", rows}};
    write_file_atomically(a.json_path, doc.dump(2) + "\n");
    std::printf("wrote %s\n", a.json_path.c_str());
  } catch (const Error& e) {
    std::fprintf(stderr, "train_bench: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
