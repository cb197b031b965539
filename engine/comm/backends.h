// Inside engine/comm: the backends' constructors (make_communicator picks one) and the checks
// they share. Not for use outside engine/comm.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>

#include "engine/comm/communicator.h"

namespace rsd::comm::detail {

// World size 1, any device: identity collectives.
std::unique_ptr<Communicator> make_single(const LaunchInfo& launch, Device device, const CommOptions& options);
#if RSD_HAVE_MPI
// CPU f32/f64 tensors over MPI_COMM_WORLD (a duplicate of it); needs launch.under_mpi.
std::unique_ptr<Communicator> make_mpi(const LaunchInfo& launch, Device device, const CommOptions& options);
// MPI_Init_thread once per process (FUNNELED: only the thread that built the communicator calls
// MPI), checking MPI's world against the launch variables; MPI_Finalize runs at exit.
void mpi_start(const LaunchInfo& launch);
// Rank root's `bytes` at `data` reach every rank of MPI_COMM_WORLD (the NCCL unique id).
void mpi_broadcast_bytes(void* data, size_t bytes, int root, const LaunchInfo& launch, double timeout_seconds);
// MPI_Abort(MPI_COMM_WORLD) when this process initialized MPI (ends every rank); else returns.
void mpi_abort_if_started();
#endif
#if RSD_HAVE_NCCL
// CUDA f32/bf16/f64 tensors; any world size, 1 included.
std::unique_ptr<Communicator> make_nccl(const LaunchInfo& launch, Device device, const CommOptions& options);
#endif

// t is defined, contiguous (every rsd tensor is) and on the communicator's device.
void check_tensor(const char* collective, const Communicator& c, const Tensor& t);
// all_gather's x (n, ...) and reduce_scatter's x (world n, ...): at least one dimension, and for
// reduce_scatter a first dimension divisible by the world size.
void check_rows(const char* collective, const Communicator& c, const Tensor& x, bool divisible_by_world);
void check_root(const char* collective, const Communicator& c, int root);

// "mpi all_reduce: rank 1 of 3 waited 300 s and the collective has not completed: ..."
[[noreturn]] void fail_timeout(const std::string& backend, const char* collective, int rank, int world_size,
                               double seconds);

// Prints "rsd: rank R: <why>" on stderr and flushes every stream (the caller then ends the job).
void print_abort(int rank, const std::string& why);

// Polls `done()` until it returns true and fails with fail_timeout after timeout_seconds. For
// the first 20 ms it only yields between polls (MPI's non-blocking collectives move data only
// inside MPI_Test, so a transfer needs frequent polls); after that it sleeps between polls, 50 us
// growing to 500 us, so that a rank waiting for a slow one leaves the core to others (ranks may
// share cores).
template <typename Done>
void wait_until(const std::string& backend, const char* collective, int rank, int world_size, double timeout_seconds,
                Done&& done) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  const auto spin_until = start + std::chrono::milliseconds(20);
  // Clamped to 30 years so that the conversion to the clock's integer ticks cannot overflow.
  const auto deadline = start + std::chrono::duration_cast<clock::duration>(
                                    std::chrono::duration<double>(std::min(timeout_seconds, 1e9)));
  auto pause = std::chrono::microseconds(50);
  while (!done()) {
    const auto now = clock::now();
    if (now > deadline) fail_timeout(backend, collective, rank, world_size, timeout_seconds);
    if (now < spin_until) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(pause);
      pause = std::min(std::chrono::microseconds(500), pause * 2);
    }
  }
}

}  // namespace rsd::comm::detail
