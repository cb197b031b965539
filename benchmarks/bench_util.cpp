#include "benchmarks/bench_util.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "engine/device.h"
#include "engine/threads.h"
#include "engine/error.h"
#include "engine/tensor.h"

#if RSD_HAVE_CUDA
#include <cuda_runtime.h>

#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#endif

namespace rsd::bench {

namespace {

Timing summarize(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  Timing t;
  t.runs = static_cast<int>(ms.size());
  t.min_ms = ms.front();
  t.median_ms = ms.size() % 2 ? ms[ms.size() / 2] : 0.5 * (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]);
  t.p90_ms = ms[std::min(ms.size() - 1, ms.size() * 9 / 10)];
  return t;
}

#if RSD_HAVE_CUDA
std::vector<double> time_cuda(int device, const std::function<void()>& fn, int runs) {
  cudaStream_t stream = cuda::context(device).stream;
  cudaEvent_t start, stop;
  RSD_CUDA_CHECK(cudaEventCreate(&start), "benchmark events");
  RSD_CUDA_CHECK(cudaEventCreate(&stop), "benchmark events");
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    RSD_CUDA_CHECK(cudaEventRecord(start, stream), "benchmark events");
    fn();
    RSD_CUDA_CHECK(cudaEventRecord(stop, stream), "benchmark events");
    RSD_CUDA_CHECK(cudaEventSynchronize(stop), "benchmark events");
    float elapsed = 0.0f;
    RSD_CUDA_CHECK(cudaEventElapsedTime(&elapsed, start, stop), "benchmark events");
    ms.push_back(elapsed);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return ms;
}
#endif

}  // namespace

Timing time_runs(Device device, const std::function<void()>& fn, int warmup, int runs) {
  RSD_CHECK(runs > 0, "time_runs: runs must be positive");
  for (int i = 0; i < warmup; ++i) fn();
  synchronize(device);
  if (device.is_cuda()) {
#if RSD_HAVE_CUDA
    return summarize(time_cuda(device.index, fn, runs));
#endif
  }
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return summarize(ms);
}

double copy_bandwidth_gbs(Device device, size_t bytes) {
  const int64_t n = static_cast<int64_t>(bytes / 4);
  Tensor src = Tensor::zeros({n}, DType::f32, device);
  Tensor dst = Tensor::zeros({n}, DType::f32, device);
  const Timing t = time_runs(device, [&] { dst.copy_from(src); }, 5, 30);
  return 2.0 * static_cast<double>(n) * 4.0 / (t.median_ms * 1e-3) / 1e9;
}

std::string device_name(Device device) {
#if RSD_HAVE_CUDA
  if (device.is_cuda()) {
    cudaDeviceProp prop{};
    RSD_CUDA_CHECK(cudaGetDeviceProperties(&prop, device.index), "device properties");
    return prop.name;
  }
#endif
  return str_cat("cpu (", describe_cpu_compute(), ")");
}

void add_cpu_options(CLI::App& app, CpuOptions& options) {
  app.add_option("--threads", options.threads,
                 "CPU threads for compute (oneDNN, OpenBLAS); give PyTorch's twin the same (default: the usable cores)");
  app.add_option("--cpu-backend", options.backend,
                 "CPU kernels: default (oneDNN where built in, else the reference), reference or onednn")
      ->capture_default_str();
}

void apply_cpu_options(const CpuOptions& options, std::optional<CpuBackendScope>& scope) {
  if (options.threads != 0) set_thread_budget(options.threads);
  if (options.backend != "default") scope.emplace(parse_cpu_backend(options.backend));
}

}  // namespace rsd::bench
