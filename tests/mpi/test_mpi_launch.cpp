// The launch as mpirun describes it, and the ctest entry that also sets the torchrun-style
// variables (mpi_env_np2): both sources are read and must agree with MPI's own view.
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

#include "engine/comm/bootstrap.h"
#include "tests/mpi/mpi_world.h"

using namespace rsd;
using rsd::test::mpi_world;

namespace {
int env_int(const char* name) { return std::atoi(std::getenv(name)); }
}  // namespace

TEST_SUITE("mpi") {
  TEST_CASE("detect_launch under mpirun agrees with MPI and with RANK / WORLD_SIZE when set") {
    const comm::LaunchInfo launch = comm::detect_launch();
    comm::Communicator& c = mpi_world();
    CHECK(launch.source == "mpi");
    CHECK(launch.under_mpi);
    CHECK(launch.rank == c.rank());
    CHECK(launch.world_size == c.world_size());
    CHECK(launch.local_rank == env_int("OMPI_COMM_WORLD_LOCAL_RANK"));
    CHECK(launch.local_world_size == env_int("OMPI_COMM_WORLD_LOCAL_SIZE"));
    if (std::getenv("RANK")) {
      MESSAGE("RANK=" << std::string(std::getenv("RANK")) << " WORLD_SIZE=" << std::string(std::getenv("WORLD_SIZE"))
                      << " read together with mpirun's variables");
      CHECK(env_int("RANK") == c.rank());
      CHECK(env_int("WORLD_SIZE") == c.world_size());
      CHECK(launch.master_addr == "127.0.0.1");
      CHECK(launch.master_port == 29517);
    }
  }

  // Run by the mpi_failure_exit ctest entry (skipped otherwise): a failure on one rank only must
  // make the whole run exit non-zero.
  TEST_CASE("a failure on the last rank only fails the run" * doctest::skip()) {
    comm::Communicator& c = mpi_world();
    CHECK_MESSAGE(c.rank() != c.world_size() - 1, "deliberate failure on rank ", c.rank());
  }
}
