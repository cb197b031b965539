// One thread budget for rsd's CPU compute: oneDNN (OpenMP), OpenBLAS and rsd's own pools draw on
// it, so that together they never run more threads than the process has cores. The default is
// the cores this process may use (its CPU affinity, capped by a cgroup CPU quota), not the
// machine's count: a container or `taskset` limit is respected.
#pragma once
#include <string>

namespace rsd {

// The cores this process may run on: sched_getaffinity, capped by cgroup v2 cpu.max (or v1
// cfs_quota_us / cfs_period_us), rounded up; at least 1.
int usable_cores();

// The threads the CPU backends may use (set_thread_budget's value, else usable_cores()).
int thread_budget();
// Sets the budget for the process (n >= 1; an error otherwise): OpenBLAS at once, oneDNN's OpenMP
// pool on each thread's next op.
void set_thread_budget(int n);

// "2 threads (of 2 usable cores)", for the startup line of a command.
std::string describe_thread_budget();
// "oneDNN CPU kernels, 2 threads (of 2 usable cores)": what computes on the CPU.
std::string describe_cpu_compute();

}  // namespace rsd
