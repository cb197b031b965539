// ops_bench: forward and forward+backward time of every benchmark case of the op matrix
// (tests/cases/: the same case list the gradient checks and backend parity tests run, at the
// network's shapes), on the CPU or a GPU, in f32 and bf16. Prints a table and writes JSON.
// --cases-json exports the cases for PyTorch's twin (benchmarks/torch_ref/ops_ref.py --cases),
// and benchmarks/compare.py prints the two side by side.
//   ops_bench --device auto --batch 64 --runs 30 --json ops.json --cases-json cases.json
//   ops_bench --variant plain --op info_nce_loss      # the plain path of the ops that have two
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "benchmarks/bench_util.h"
#include "engine/allocator.h"
#include "engine/atomic_file.h"
#include "engine/autograd.h"
#include "tests/support/op_cases.h"
#include "engine/shutdown.h"

using namespace rsd;
using rsd::test::OpCase;

namespace {

struct Options {
  std::string device = "auto", dtype = "auto", variant = "fused", json_path, cases_json_path;
  bench::CpuOptions cpu;
  std::vector<std::string> ops;
  int64_t batch = 0;
  int runs = 0, warmup = 3;
};

std::vector<DType> run_dtypes(const Options& opt, Device device) {
  if (opt.dtype == "auto")
    return device.is_cuda() ? std::vector<DType>{DType::f32, DType::bf16} : std::vector<DType>{DType::f32};
  RSD_CHECK(opt.dtype == "f32" || opt.dtype == "bf16", "--dtype must be f32, bf16 or auto, got '", opt.dtype, "'");
  RSD_CHECK(device.is_cuda() || opt.dtype == "f32", "--dtype bf16 needs a GPU (the CPU computes in f32 and f64)");
  return {opt.dtype == "f32" ? DType::f32 : DType::bf16};
}

std::vector<OpCase> selected_cases(const Options& opt, const test::BenchShape& shape) {
  std::vector<OpCase> cases = test::bench_cases(shape);
  if (opt.ops.empty()) return cases;
  std::vector<OpCase> kept;
  for (const OpCase& c : cases)
    if (std::find(opt.ops.begin(), opt.ops.end(), c.op) != opt.ops.end()) kept.push_back(c);
  RSD_CHECK(!kept.empty(), "--op matches no benchmark case (ops: conv2d, linear, batch_norm2d, relu, add, max_pool2d, "
                           "global_avg_pool, l2_normalize, softmax_cross_entropy, byol_cosine_loss, info_nce_loss)");
  return kept;
}

// Median times of one case: forward without the tape, and forward + backward from a gradient of ones.
nlohmann::json time_case(const OpCase& c, DType dt, Device device, const Options& opt) {
  const std::vector<Tensor> inputs = test::make_inputs(c, dt, device, 1);
  Arena& arena = arena_for(device);
  auto forward = [&] {
    {
      ArenaScope scope(arena);
      NoGradScope no_grad;
      c.run(inputs);
    }
    arena.reset();
  };
  auto both = [&] {
    {
      ArenaScope scope(arena);
      Tensor y = c.run(inputs);
      backward(y, Tensor::full(y.shape(), 1.0, y.dtype(), device));
    }
    arena.reset();
  };
  const bench::Timing f = bench::time_runs(device, forward, opt.warmup, opt.runs);
  const bench::Timing fb = bench::time_runs(device, both, opt.warmup, opt.runs);
  const double bytes = c.elements * static_cast<double>(dtype_size(dt));
  const double rate = c.flops > 0 ? c.flops / (f.median_ms * 1e-3) / 1e12 : bytes / (f.median_ms * 1e-3) / 1e9;
  std::printf("%-22s %-30s %-5s %11.3f %11.3f %8.2f %s\n", c.op.c_str(), c.label.c_str(), dtype_name(dt),
              f.median_ms, fb.median_ms, rate, c.flops > 0 ? "TFLOP/s" : "GB/s");
  return {{"op", c.op},          {"shape", c.label},       {"dtype", dtype_name(dt)}, {"fwd_ms", f.median_ms},
          {"fwd_bwd_ms", fb.median_ms}, {"fwd_min_ms", f.min_ms}, {"runs", opt.runs},     {"flops", c.flops},
          {"bytes", bytes}};
}

int run(Options& opt) {
  const Device device = parse_device(opt.device);
  std::optional<CpuBackendScope> cpu_backend;
  bench::apply_cpu_options(opt.cpu, cpu_backend);
  if (opt.batch <= 0) opt.batch = device.is_cuda() ? 64 : 4;
  if (opt.runs <= 0) opt.runs = device.is_cuda() ? 30 : 5;
  const test::BenchShape shape{opt.batch, parse_variant(opt.variant)};
  const std::vector<OpCase> cases = selected_cases(opt, shape);
  if (!opt.cases_json_path.empty()) {
    write_file_atomically(opt.cases_json_path, test::bench_cases_json(cases, shape));
    std::printf("wrote the %zu cases to %s (for benchmarks/torch_ref/ops_ref.py --cases)\n", cases.size(),
                opt.cases_json_path.c_str());
  }
  const std::string dev = bench::device_name(device);
  const char* cpu_kernels = backend_name(selected_cpu_backend());
  std::printf("ops_bench on %s, batch %lld, %s variant, median of %d runs after %d warm-up\n", dev.c_str(),
              static_cast<long long>(opt.batch), opt.variant.c_str(), opt.runs, opt.warmup);
  std::printf("%-22s %-30s %-5s %11s %11s %12s\n", "op", "shape", "dtype", "fwd ms", "fwd+bwd ms", "fwd rate");
  nlohmann::json results = nlohmann::json::array();
  for (DType dt : run_dtypes(opt, device))
    for (const OpCase& c : cases) results.push_back(time_case(c, dt, device, opt));
  if (!opt.json_path.empty()) {
    const nlohmann::json doc = {{"benchmark", "ops_bench"}, {"implementation", "rsd"}, {"device", dev},
                                {"batch", opt.batch},       {"variant", opt.variant},  {"cpu_backend", cpu_kernels},
                                {"results", results}};
    write_file_atomically(opt.json_path, doc.dump(2) + "\n");
    std::printf("wrote %s\n", opt.json_path.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  rsd::ShutdownAtExit shutdown_at_exit;  // ends the device state before static destruction (engine/shutdown.h)
  CLI::App app{"ops_bench: time every benchmark case of the op matrix (tests/cases/) forward and forward+backward "
               "(medians after warm-up)"};
  Options opt;
  app.add_option("--device", opt.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  app.add_option("--dtype", opt.dtype, "f32, bf16 (GPU only) or auto (f32 on CPU, f32 and bf16 on GPU)")
      ->capture_default_str();
  app.add_option("--batch", opt.batch, "Batch size the shapes scale with (default 64 on a GPU, 4 on the CPU)");
  app.add_option("--variant", opt.variant, "fused or plain: the implementation of the ops that have both")
      ->capture_default_str();
  bench::add_cpu_options(app, opt.cpu);
  app.add_option("--op", opt.ops, "Only these ops (repeatable), e.g. --op conv2d --op linear");
  app.add_option("--runs", opt.runs, "Timed runs per op (default 30 on a GPU, 5 on the CPU)");
  app.add_option("--warmup", opt.warmup, "Untimed runs first")->capture_default_str();
  app.add_option("--json", opt.json_path, "Write the results as JSON to this file");
  app.add_option("--cases-json", opt.cases_json_path,
                 "Write the benchmark cases as JSON to this file (the input of torch_ref/ops_ref.py --cases)");
  CLI11_PARSE(app, argc, argv);
  try {
    return run(opt);
  } catch (const Error& e) {
    std::fprintf(stderr, "ops_bench: error: %s\n", e.what());
    return 1;
  }
}
