#include "engine/threads.h"

#include <sched.h>

#include <atomic>
#include <cmath>
#include <fstream>
#include <string>

#include "engine/cpu/gemm.h"
#include "engine/error.h"
#include "engine/op.h"

namespace rsd {

namespace {

std::atomic<int> g_budget{0};  // 0: not set, usable_cores()

// The CPU quota of this process's cgroup in cores (cpu.max "max 100000" -> none), or 0 for none.
double cgroup_quota_cores() {
  std::ifstream v2("/sys/fs/cgroup/cpu.max");
  std::string quota;
  double period = 0;
  if (v2 >> quota >> period) return quota == "max" || period <= 0 ? 0.0 : std::stod(quota) / period;
  std::ifstream q1("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), p1("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
  double q = -1, p = 0;
  if (q1 >> q && p1 >> p && q > 0 && p > 0) return q / p;
  return 0.0;
}

}  // namespace

int usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  int cores = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
  const double quota = cgroup_quota_cores();
  if (quota > 0) cores = std::min(cores, static_cast<int>(std::ceil(quota)));
  return std::max(cores, 1);
}

int thread_budget() {
  const int b = g_budget.load(std::memory_order_relaxed);
  return b > 0 ? b : usable_cores();
}

void set_thread_budget(int n) {
  RSD_CHECK(n >= 1, "--threads must be at least 1, got ", n);
  g_budget.store(n, std::memory_order_relaxed);
  cpu::set_gemm_threads(n);
}

std::string describe_thread_budget() {
  const int n = thread_budget();
  return str_cat(n, n == 1 ? " thread" : " threads", " (of ", usable_cores(), " usable cores)");
}

std::string describe_cpu_compute() {
  return str_cat(backend_name(selected_cpu_backend()), " kernels, ", describe_thread_budget());
}

}  // namespace rsd
