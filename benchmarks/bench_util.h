// Shared pieces of the benchmark programs: timing (CUDA events on a GPU, a steady clock on the
// CPU), medians over many runs after warm-up, the device's measured copy bandwidth (the memory
// ceiling quoted beside memory-bound kernels), and JSON output written atomically.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <optional>

#include "engine/device.h"
#include "engine/op.h"

namespace rsd::bench {

struct Timing {
  double median_ms = 0.0;
  double min_ms = 0.0;
  double p90_ms = 0.0;
  int runs = 0;
};

// Runs fn `warmup` times, then `runs` times timing each run (CUDA events around each run on a
// GPU, so only device time counts; wall time on the CPU).
Timing time_runs(Device device, const std::function<void()>& fn, int warmup, int runs);

// Median time of a device-to-device copy of `bytes` (read + write): the bandwidth ceiling in
// GB/s counting both directions, measured in the same process as the kernels it is compared with.
double copy_bandwidth_gbs(Device device, size_t bytes);

// "NVIDIA H100 80GB HBM3" or "cpu (oneDNN CPU kernels, 2 threads (of 2 usable cores))".
std::string device_name(Device device);

// What computes on the CPU, as the benchmarks take it on their command line: the thread budget
// (--threads, to match PyTorch's torch.set_num_threads) and the kernels (--cpu-backend).
struct CpuOptions {
  int threads = 0;  // 0: the cores this process may use
  std::string backend = "default";
};
void add_cpu_options(CLI::App& app, CpuOptions& options);
// Applies them for the process: the thread budget, and the CPU backend while `scope` lives.
void apply_cpu_options(const CpuOptions& options, std::optional<CpuBackendScope>& scope);

}  // namespace rsd::bench
