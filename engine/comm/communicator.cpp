#include "engine/comm/communicator.h"

#include <cmath>
#include <cstdio>
#include <iostream>
#include <thread>

#include "engine/comm/backends.h"

namespace rsd::comm {

namespace detail {

void check_tensor(const char* collective, const Communicator& c, const Tensor& t) {
  RSD_CHECK(t.defined(), c.backend(), " ", collective, ": undefined tensor (rank ", c.rank(), ")");
  RSD_CHECK(t.device() == c.device(), c.backend(), " ", collective, ": tensor ", t.describe(),
            " is not on the communicator's device ", c.device().str(), " (rank ", c.rank(),
            "): move it there first");
}

void check_rows(const char* collective, const Communicator& c, const Tensor& x, bool divisible_by_world) {
  RSD_CHECK(x.ndim() >= 1, c.backend(), " ", collective, ": ", x.describe(),
            " has no first dimension to gather or scatter rows along (rank ", c.rank(), ")");
  RSD_CHECK(!divisible_by_world || x.dim(0) % c.world_size() == 0, c.backend(), " ", collective, ": ",
            x.describe(), " has ", x.dim(0), " rows, not a multiple of the world size ", c.world_size(),
            " (rank ", c.rank(), "): it must hold one block of rows per rank");
}

void check_root(const char* collective, const Communicator& c, int root) {
  RSD_CHECK(root >= 0 && root < c.world_size(), c.backend(), " ", collective, ": root ", root,
            " is not a rank of this world of ", c.world_size(), " (rank ", c.rank(), ")");
}

void fail_timeout(const std::string& backend, const char* collective, int rank, int world_size, double seconds) {
  fail(backend, " ", collective, ": rank ", rank, " of ", world_size, " waited ", seconds,
       " s and the collective has not completed: a rank probably died or is stuck (or the ranks called "
       "different collectives); check the other ranks' output, and raise distributed.timeout_s if a step "
       "legitimately takes longer");
}

void print_abort(int rank, const std::string& why) {
  std::cout.flush();
  std::fflush(nullptr);
  std::fprintf(stderr, "rsd: rank %d: %s\n", rank, why.c_str());
  std::fflush(stderr);
}

}  // namespace detail

bool backend_available(const std::string& backend) {
  if (backend == "single") return true;
  if (backend == "mpi") return RSD_HAVE_MPI != 0;
  if (backend == "nccl") return RSD_HAVE_NCCL != 0;
  return false;
}

void Communicator::wait_for(const std::function<bool()>& ready, const char* /*what*/) {
  // No timeout: the collectives before it completed on the host; what is left is this rank's own
  // device work.
  while (!ready()) std::this_thread::yield();
}

std::unique_ptr<Communicator> make_communicator(const LaunchInfo& launch, Device device, const CommOptions& options) {
  RSD_CHECK(std::isfinite(options.timeout_seconds) && options.timeout_seconds > 0,
            "communicator: timeout_seconds = ", options.timeout_seconds, " is not a positive number of seconds");
  RSD_CHECK(launch.world_size >= 1 && launch.rank >= 0 && launch.rank < launch.world_size,
            "communicator: ", launch.describe(), " is not a valid launch (rank outside the world)");
  std::string backend = options.backend;
  if (backend == "auto") backend = launch.world_size == 1 ? "single" : device.is_cuda() ? "nccl" : "mpi";

  if (backend == "single") {
    RSD_CHECK(launch.world_size == 1, "communicator: backend \"single\" runs one process, but this is ",
              launch.describe(), ": use backend \"auto\"");
    return detail::make_single(launch, device, options);
  }
  if (backend == "mpi") {
    RSD_CHECK(device.is_cpu(), "communicator: the mpi backend moves CPU tensors, not ", device.str(),
              ": use the nccl backend (or \"auto\") on a GPU");
    if (!launch.under_mpi) {
      RSD_CHECK(launch.world_size == 1, "CPU training across processes needs MPI: launch with mpirun -np ",
                launch.world_size, " (this process was started by ", launch.source, " as rank ", launch.rank,
                " of ", launch.world_size, ")",
                RSD_HAVE_MPI ? "" : "; and this build has no MPI: install libopenmpi-dev and rebuild");
      fail("communicator: the mpi backend needs an MPI launcher (mpirun -np N); this process was started by ",
           launch.source, " (", launch.describe(), ")");
    }
#if RSD_HAVE_MPI
    return detail::make_mpi(launch, device, options);
#else
    fail("communicator: ", launch.describe(),
         " needs the mpi backend, but this build has no MPI: install libopenmpi-dev and rebuild");
#endif
  }
  if (backend == "nccl") {
    RSD_CHECK(device.is_cuda(), "communicator: the nccl backend moves CUDA tensors, not ", device.str(),
              ": use the mpi backend (or \"auto\") on the CPU");
#if RSD_HAVE_NCCL
    return detail::make_nccl(launch, device, options);
#else
    fail("communicator: ", launch.describe(), " on ", device.str(), " needs the nccl backend, but this build has ",
         RSD_HAVE_CUDA ? "no NCCL: install it (pip install nvidia-nccl-cu13, or point NCCL_ROOT at it) and rebuild"
                       : "no CUDA backend");
#endif
  }
  fail("communicator: unknown backend \"", options.backend, "\" (expected auto, single, mpi or nccl)");
}

}  // namespace rsd::comm
