// ops_bench: forward and forward+backward time of each engine op at ResNet/BYOL-like shapes, on
// the CPU or a GPU, in f32 and bf16. Prints a table and writes JSON; benchmarks/torch_ref/ops_ref.py
// times the same ops in PyTorch and benchmarks/compare.py prints the two side by side.
//   ops_bench --device auto --batch 64 --runs 30 --json ops.json
#include <CLI/CLI.hpp>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "benchmarks/bench_util.h"
#include "engine/allocator.h"
#include "engine/atomic_file.h"
#include "engine/autograd.h"
#include "engine/ops/batchnorm.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/cross_entropy.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/l2norm.h"
#include "engine/ops/linear.h"
#include "engine/ops/pool.h"
#include "engine/rng.h"

using namespace rsd;

namespace {

struct Case {
  std::string op, shape;
  double flops;  // forward multiply-adds x 2 (0 for memory-bound ops)
  double bytes;  // forward bytes read + written at the run dtype (memory-bound ops)
  std::function<Tensor()> forward;
};

Tensor input(const Shape& s, DType dtype, Device d, uint64_t seed, bool grad = true) {
  Tensor t = Tensor::empty(s, dtype == DType::bf16 && !d.is_cuda() ? DType::f32 : dtype, d);
  fill_normal_(t, seed, 0, 0.0, 1.0);
  if (grad) t.set_requires_grad(true);
  return t;
}

std::vector<Case> make_cases(int64_t b, DType dt, Device d) {
  const double es = static_cast<double>(dtype_size(dt));
  std::vector<Case> cases;
  auto conv = [&](int64_t h, int64_t c, int64_t k, int r, int stride, int pad) {
    Tensor x = input({b, h, h, c}, dt, d, 1), w = input({k, r, r, c}, dt, d, 2);
    const int64_t p = conv2d_output_size(h, r, stride, pad);
    cases.push_back({"conv2d", str_cat(shape_str({b, h, h, c}), " k", r, " s", stride, " ->", k),
                     2.0 * b * p * p * k * r * r * c, 0.0, [=] { return conv2d(x, w, stride, pad); }});
  };
  conv(56, 64, 64, 3, 1, 1);
  conv(56, 64, 128, 3, 2, 1);
  conv(224, 12, 64, 7, 2, 3);
  const Shape act{b, 56, 56, 64};
  const double act_bytes = static_cast<double>(shape_numel(act)) * es;
  {
    Tensor x = input(act, dt, d, 3);
    Tensor g = input({64}, DType::f32, d, 4), be = input({64}, DType::f32, d, 5);
    Tensor rm = Tensor::zeros({64}, DType::f32, d), rv = Tensor::full({64}, 1.0, DType::f32, d);
    cases.push_back({"batch_norm2d", shape_str(act), 0.0, 3 * act_bytes,
                     [=]() mutable { return batch_norm2d(x, g, be, rm, rv, true); }});
    cases.push_back({"relu", shape_str(act), 0.0, 2 * act_bytes, [=] { return relu(x); }});
    Tensor y = input(act, dt, d, 6);
    cases.push_back({"add", shape_str(act), 0.0, 3 * act_bytes, [=] { return add(x, y); }});
  }
  {
    const Shape s{b, 112, 112, 64};
    Tensor x = input(s, dt, d, 7);
    cases.push_back({"max_pool2d", shape_str(s) + " k3 s2", 0.0, 1.25 * shape_numel(s) * es,
                     [=] { return max_pool2d(x, 3, 2, 1); }});
  }
  {
    const Shape s{b, 7, 7, 512};
    Tensor x = input(s, dt, d, 8);
    cases.push_back({"global_avg_pool", shape_str(s), 0.0, shape_numel(s) * es, [=] { return global_avg_pool(x); }});
  }
  auto lin = [&](int64_t n, int64_t in, int64_t out) {
    Tensor x = input({n, in}, dt, d, 9), w = input({out, in}, dt, d, 10), bias = input({out}, dt, d, 11);
    cases.push_back({"linear", str_cat(shape_str({n, in}), " ->", out), 2.0 * n * in * out, 0.0,
                     [=] { return linear(x, w, bias); }});
  };
  lin(8 * b, 512, 4096);
  lin(8 * b, 4096, 256);
  {
    const Shape s{64 * b, 256};
    Tensor x = input(s, dt, d, 12);
    cases.push_back({"l2_normalize", shape_str(s), 0.0, 2 * shape_numel(s) * es, [=] { return l2_normalize(x); }});
  }
  {
    const Shape s{8 * b, 1000};
    Tensor x = input(s, dt, d, 13);
    Generator gen(14);
    std::vector<int32_t> labels(static_cast<size_t>(s[0]));
    for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int32_t>((i * 7919) % 1000);
    Tensor y = Tensor::from_ints(labels, {s[0]}, d);
    cases.push_back({"softmax_cross_entropy", shape_str(s), 0.0, shape_numel(s) * es,
                     [=] { return softmax_cross_entropy(x, y); }});
  }
  return cases;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ops_bench: time each engine op forward and forward+backward (medians after warm-up)"};
  std::string device_name = "auto", dtype_name_opt = "auto", json_path;
  int64_t batch = 0;
  int runs = 0, warmup = 3;
  app.add_option("--device", device_name, "auto, cpu, cuda or cuda:N")->capture_default_str();
  app.add_option("--dtype", dtype_name_opt, "f32, bf16 (GPU only) or auto (f32 on CPU, f32 and bf16 on GPU)")
      ->capture_default_str();
  app.add_option("--batch", batch, "Batch size (default 64 on a GPU, 4 on the CPU)");
  app.add_option("--runs", runs, "Timed runs per op (default 30 on a GPU, 5 on the CPU)");
  app.add_option("--warmup", warmup, "Untimed runs first")->capture_default_str();
  app.add_option("--json", json_path, "Write the results as JSON to this file");
  CLI11_PARSE(app, argc, argv);
  try {
    const Device device = parse_device(device_name);
    if (batch <= 0) batch = device.is_cuda() ? 64 : 4;
    if (runs <= 0) runs = device.is_cuda() ? 30 : 5;
    std::vector<DType> dtypes;
    if (dtype_name_opt == "auto") {
      dtypes = device.is_cuda() ? std::vector<DType>{DType::f32, DType::bf16} : std::vector<DType>{DType::f32};
    } else {
      RSD_CHECK(dtype_name_opt == "f32" || dtype_name_opt == "bf16", "--dtype must be f32, bf16 or auto");
      dtypes = {dtype_name_opt == "f32" ? DType::f32 : DType::bf16};
      RSD_CHECK(device.is_cuda() || dtypes[0] == DType::f32, "--dtype bf16 needs a GPU (the CPU computes in f32/f64)");
    }
    const std::string dev = bench::device_name(device);
    std::printf("ops_bench on %s, batch %lld, median of %d runs after %d warm-up\n", dev.c_str(),
                static_cast<long long>(batch), runs, warmup);
    std::printf("%-22s %-28s %-5s %11s %11s %12s\n", "op", "shape", "dtype", "fwd ms", "fwd+bwd ms", "fwd rate");
    nlohmann::json results = nlohmann::json::array();
    Arena& arena = arena_for(device);
    for (DType dt : dtypes) {
      for (Case& c : make_cases(batch, dt, device)) {
        auto forward = [&] {
          {
            ArenaScope scope(arena);
            NoGradScope no_grad;
            c.forward();
          }
          arena.reset();
        };
        auto both = [&] {
          {
            ArenaScope scope(arena);
            Tensor y = c.forward();
            Tensor seed = Tensor::full(y.shape(), 1.0, y.dtype(), device);
            backward(y, seed);
          }
          arena.reset();
        };
        const bench::Timing f = bench::time_runs(device, forward, warmup, runs);
        const bench::Timing fb = bench::time_runs(device, both, warmup, runs);
        const double rate = c.flops > 0 ? c.flops / (f.median_ms * 1e-3) / 1e12 : c.bytes / (f.median_ms * 1e-3) / 1e9;
        std::printf("%-22s %-28s %-5s %11.3f %11.3f %8.2f %s\n", c.op.c_str(), c.shape.c_str(), dtype_name(dt),
                    f.median_ms, fb.median_ms, rate, c.flops > 0 ? "TFLOP/s" : "GB/s");
        results.push_back({{"op", c.op}, {"shape", c.shape}, {"dtype", dtype_name(dt)}, {"fwd_ms", f.median_ms},
                           {"fwd_bwd_ms", fb.median_ms}, {"fwd_min_ms", f.min_ms}, {"runs", runs},
                           {"flops", c.flops}, {"bytes", c.bytes}});
      }
    }
    if (!json_path.empty()) {
      const nlohmann::json doc = {{"benchmark", "ops_bench"}, {"implementation", "rsd"}, {"device", dev},
                                  {"batch", batch}, {"results", results}};
      write_file_atomically(json_path, doc.dump(2) + "\n");
      std::printf("wrote %s\n", json_path.c_str());
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "ops_bench: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
