// loss_bench: the two SSL losses, fused kernels against their plain (logits-materializing)
// implementations, forward + backward, on a GPU (or the CPU for a smoke run).
//   InfoNCE   N = M in {1024, 8192, 32768, 65536}, D in {128, 256}, bf16 and f32: median time of
//             >= 20 runs after warm-up (CUDA events), peak extra device memory, TFLOP/s counting
//             6 N M D useful FLOPs (logits forward, dA and dB backward; recomputation not
//             counted), and the plain/fused time ratio.
//   cosine    B = 65536 (and 8192), D in {128, 256}: the one-pass fused forward+backward, its
//             achieved bandwidth (3 B D elements + 8 B bytes) and the fraction of the copy
//             bandwidth measured in the same run; the plain path beside it. (The autograd op
//             moves 5 B D elements: a loss-only forward, then the fused pass in backward.)
// Prints a table, writes JSON; benchmarks/torch_ref/loss_ref.py times PyTorch on the same sizes
// and benchmarks/compare.py prints both side by side.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <functional>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "benchmarks/bench_util.h"
#include "engine/allocator.h"
#include "engine/atomic_file.h"
#include "engine/ops/cosine_loss.h"
#include "engine/ops/info_nce.h"
#include "engine/rng.h"
#include "engine/shutdown.h"

using namespace rsd;

namespace {

struct Measured {
  bool ok = false;
  std::string error;
  bench::Timing time;
  int64_t peak_bytes = 0;  // extra device memory at the op's peak (arena + pool, beyond the inputs)
};

int64_t bytes_in_use(Device d) { return arena_for(d).stats().bytes_in_use + pool_for(d).stats().bytes_in_use; }

// Times fn (one forward + backward) inside the step arena, reset after every run; measures the
// peak extra memory of one run first. Failures (out of memory) are reported, not fatal.
Measured measure(Device d, const std::function<void()>& fn, int warmup, int runs) {
  Measured m;
  Arena& arena = arena_for(d);
  auto step = [&] {
    {
      ArenaScope scope(arena);
      fn();
    }
    arena.reset();
  };
  try {
    synchronize(d);
    const int64_t before = bytes_in_use(d);
    arena.reset_peak();
    pool_for(d).reset_peak();
    {
      ArenaScope scope(arena);
      fn();
      synchronize(d);
    }
    m.peak_bytes = arena.stats().peak_bytes_in_use + pool_for(d).stats().peak_bytes_in_use - before;
    arena.reset();
    m.time = bench::time_runs(d, step, warmup, runs);
    m.ok = true;
  } catch (const Error& e) {
    m.error = e.what();
    arena.reset();
  }
  return m;
}

Tensor random_input(const Shape& s, DType dt, Device d, uint64_t seed) {
  Tensor t = Tensor::empty(s, dt, d);
  fill_normal_(t, seed, 0, 0.0, 1.0);
  return t;
}

nlohmann::json entry(const std::string& op, const std::string& shape, DType dt, const Measured& m) {
  nlohmann::json j = {{"op", op}, {"shape", shape}, {"dtype", dtype_name(dt)}, {"ok", m.ok}};
  if (m.ok) {
    j["fwd_bwd_ms"] = m.time.median_ms;
    j["min_ms"] = m.time.min_ms;
    j["runs"] = m.time.runs;
    j["peak_bytes"] = m.peak_bytes;
  } else {
    j["error"] = m.error;
  }
  return j;
}

std::string fixed(double v, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string ms_or_error(const Measured& m) {
  if (m.ok) return fixed(m.time.median_ms, 3);
  return m.error.find("out of memory") != std::string::npos ? "OOM" : "failed";
}

void bench_info_nce(Device d, int64_t n, int64_t dim, DType dt, int warmup, int runs, nlohmann::json& out) {
  const Tensor a = random_input({n, dim}, dt, d, 1), b = random_input({n, dim}, dt, d, 2);
  const Tensor tau = Tensor::full({1}, 0.1, DType::f32, d);
  const Tensor gloss = Tensor::full({1}, 1.0, d.is_cuda() ? DType::f32 : dt, d);
  auto run = [&](Variant k) {
    return [&, k] {
      InfoNceOptions opt;
      opt.variant = k;
      const InfoNceContext ctx = info_nce_forward(a, b, tau, 0, opt);
      info_nce_backward(ctx, gloss);
    };
  };
  const std::string shape = str_cat("N=", n, " M=", n, " D=", dim);
  const Measured fused = measure(d, run(Variant::fused), warmup, runs);
  const Measured plain = d.is_cuda() ? measure(d, run(Variant::plain), warmup, runs) : fused;
  const double flops = 6.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(dim);
  const double tflops = fused.ok ? flops / (fused.time.median_ms * 1e-3) / 1e12 : 0.0;
  const std::string ratio = fused.ok && plain.ok ? fixed(plain.time.median_ms / fused.time.median_ms, 2) : "-";
  std::printf("%-12s %-24s %-5s %12s %12s %8s %9.1f %12.1f %12.1f\n", "info_nce", shape.c_str(), dtype_name(dt),
              ms_or_error(fused).c_str(), ms_or_error(plain).c_str(), ratio.c_str(), tflops, fused.peak_bytes / 1048576.0,
              plain.peak_bytes / 1048576.0);
  nlohmann::json j = entry("info_nce", shape, dt, fused);
  j["tflops"] = tflops;
  j["useful_flops"] = flops;
  j["plain"] = entry("info_nce", shape, dt, plain);
  if (fused.ok && plain.ok) j["plain_over_fused"] = plain.time.median_ms / fused.time.median_ms;
  j["inputs_bytes"] = 2 * n * dim * static_cast<int64_t>(dtype_size(dt));
  out.push_back(j);
}

void bench_cosine(Device d, int64_t rows, int64_t dim, DType dt, double copy_gbs, int warmup, int runs,
                  nlohmann::json& out) {
  const Tensor p = random_input({rows, dim}, dt, d, 3), z = random_input({rows, dim}, dt, d, 4);
  Tensor loss, dp;  // allocated by the first call, overwritten afterwards (outside the timed arena)
  byol_cosine_loss_forward_backward(p, z, loss, dp);
  auto one_pass = [&](Variant k) { return [&, k] { byol_cosine_loss_forward_backward(p, z, loss, dp, 1e-8, k); }; };
  const std::string shape = str_cat("B=", rows, " D=", dim);
  const Measured fused = measure(d, one_pass(Variant::fused), warmup, runs);
  const Measured plain = measure(d, one_pass(Variant::plain), warmup, runs);
  const double bytes = 3.0 * rows * dim * static_cast<double>(dtype_size(dt)) + 8.0 * rows;
  const double gbs = fused.ok ? bytes / (fused.time.median_ms * 1e-3) / 1e9 : 0.0;
  std::printf("%-12s %-24s %-5s %12s %12s %8s %9.1f GB/s = %.0f%% of copy\n", "byol_cosine", shape.c_str(),
              dtype_name(dt), ms_or_error(fused).c_str(), ms_or_error(plain).c_str(),
              fused.ok && plain.ok ? fixed(plain.time.median_ms / fused.time.median_ms, 2).c_str() : "-", gbs,
              100.0 * gbs / copy_gbs);
  nlohmann::json j = entry("byol_cosine", shape, dt, fused);
  j["bytes"] = bytes;
  j["gbs"] = gbs;
  j["copy_gbs"] = copy_gbs;
  j["fraction_of_copy"] = gbs / copy_gbs;
  j["plain"] = entry("byol_cosine", shape, dt, plain);
  out.push_back(j);
}

}  // namespace

int main(int argc, char** argv) {
  rsd::ShutdownAtExit shutdown_at_exit;  // ends the device state before static destruction (engine/shutdown.h)
  CLI::App app{"loss_bench: fused vs plain InfoNCE and BYOL cosine loss, forward + backward"};
  std::string device_name = "auto", json_path;
  std::vector<int64_t> sizes, cosine_rows;
  std::vector<int64_t> dims{128, 256};
  std::vector<std::string> dtypes{"bf16", "f32"};
  int runs = 20, warmup = 3;
  bench::CpuOptions cpu;
  app.add_option("--device", device_name, "auto, cpu, cuda or cuda:N")->capture_default_str();
  app.add_option("--sizes", sizes, "InfoNCE N = M values (default 1024 8192 32768 65536 on a GPU, 256 1024 4096 on the CPU)");
  app.add_option("--cosine-rows", cosine_rows, "Cosine loss batch sizes (default 8192 65536 on a GPU, 1024 on the CPU)");
  app.add_option("--dims", dims, "Embedding dimensions")->capture_default_str();
  app.add_option("--dtypes", dtypes, "bf16 and/or f32 (the CPU runs f32 only)")->capture_default_str();
  app.add_option("--runs", runs, "Timed runs (median)")->check(CLI::Range(1, 100000))->capture_default_str();
  app.add_option("--warmup", warmup, "Untimed runs first")->capture_default_str();
  app.add_option("--json", json_path, "Write the results as JSON to this file");
  bench::add_cpu_options(app, cpu);
  CLI11_PARSE(app, argc, argv);
  try {
    std::optional<CpuBackendScope> cpu_backend;
    bench::apply_cpu_options(cpu, cpu_backend);
    const Device d = parse_device(device_name);
    if (sizes.empty()) sizes = d.is_cuda() ? std::vector<int64_t>{1024, 8192, 32768, 65536}
                                 : std::vector<int64_t>{256, 1024, 4096};
    if (cosine_rows.empty()) cosine_rows = d.is_cuda() ? std::vector<int64_t>{8192, 65536} : std::vector<int64_t>{1024};
    std::vector<DType> types;
    for (const std::string& t : dtypes) {
      RSD_CHECK(t == "bf16" || t == "f32", "--dtypes takes bf16 and f32, got '", t, "'");
      if (t == "bf16" && !d.is_cuda()) continue;
      types.push_back(t == "bf16" ? DType::bf16 : DType::f32);
    }
    RSD_CHECK(!types.empty(), "no dtype to run (bf16 needs a GPU)");
    const std::string dev = bench::device_name(d);
    const double copy_gbs = bench::copy_bandwidth_gbs(d, size_t{256} << 20);
    std::printf("loss_bench on %s; median of %d runs after %d warm-up; copy bandwidth %.0f GB/s (256 MiB, read+write)\n",
                dev.c_str(), runs, warmup, copy_gbs);
    std::printf("%-12s %-24s %-5s %12s %12s %8s %9s %12s %12s\n", "loss", "shape", "dtype", "fused ms", "plain ms",
                "ratio", "TFLOP/s", "fused MiB", "plain MiB");
    nlohmann::json results = nlohmann::json::array();
    for (DType dt : types)
      for (int64_t dim : dims)
        for (int64_t n : sizes) bench_info_nce(d, n, dim, dt, warmup, runs, results);
    for (DType dt : types)
      for (int64_t dim : dims)
        for (int64_t rows : cosine_rows) bench_cosine(d, rows, dim, dt, copy_gbs, warmup, runs, results);
    if (!json_path.empty()) {
      const nlohmann::json doc = {{"benchmark", "loss_bench"}, {"implementation", "rsd"}, {"device", dev},
                                  {"copy_gbs", copy_gbs}, {"results", results}};
      write_file_atomically(json_path, doc.dump(2) + "\n");
      std::printf("wrote %s\n", json_path.c_str());
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "loss_bench: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
