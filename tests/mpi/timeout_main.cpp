// rsd_mpi_timeout: a collective that only rank 0 calls. Rank 0's barrier must fail after the 1 s
// timeout with an error naming the collective, the rank and the timeout; rank 0 then calls
// abort(), which must end every rank (the others sleep, and report it if they wake up). Run by
// ctest through tests/mpi/expect_failure.cmake: it expects a non-zero exit and those messages.
// A separate executable because the abandoned barrier leaves MPI unusable for further tests.
#include <chrono>
#include <cstdio>
#include <thread>

#include "engine/comm/bootstrap.h"
#include "engine/comm/communicator.h"

int main() {
  using namespace rsd;
  comm::CommOptions options;
  options.backend = "mpi";
  options.timeout_seconds = 1;
  std::unique_ptr<comm::Communicator> world;
  try {
    world = comm::make_communicator(comm::detect_launch(), Device::cpu(), options);
  } catch (const Error& e) {
    std::fprintf(stderr, "rsd_mpi_timeout: %s\n", e.what());
    return 2;
  }
  if (world->rank() == 0) {
    try {
      world->barrier();
    } catch (const Error& e) {
      world->abort(str_cat("caught: ", e.what()));
    }
    std::printf("rsd_mpi_timeout: rank 0's barrier completed without the others\n");
    return 3;
  }
  std::this_thread::sleep_for(std::chrono::seconds(60));
  std::printf("rsd_mpi_timeout: rank %d was not ended by rank 0's abort\n", world->rank());
  return 3;
}
