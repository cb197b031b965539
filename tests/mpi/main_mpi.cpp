// Entry point of rsd_mpi_tests, run by ctest under mpirun -np 2 and -np 3 (tests/CMakeLists.txt).
// Every rank runs the doctest cases; rank 0 prints the usual report, the other ranks only their
// failures (doctest's minimal mode), followed by a line naming the rank. The ranks then agree on
// the outcome (one all-reduce), so that every rank exits 1 when a test failed on any of them, and
// rank 0 prints how many ranks failed.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <memory>

#include "engine/comm/bootstrap.h"
#include "tests/mpi/mpi_world.h"

namespace rsd::test {

namespace {
std::unique_ptr<rsd::comm::Communicator> g_world;
}  // namespace

rsd::comm::Communicator& mpi_world() { return *g_world; }

}  // namespace rsd::test

int main(int argc, char** argv) {
  using namespace rsd;
  try {
    const comm::LaunchInfo launch = comm::detect_launch();
    if (!launch.under_mpi) {
      std::fprintf(stderr, "rsd_mpi_tests: run it under mpirun -np N (N >= 2); this process is %s\n",
                   launch.describe().c_str());
      return 2;
    }
    comm::CommOptions options;
    options.backend = "mpi";
    options.timeout_seconds = 60;  // a test that leaves a rank behind fails instead of hanging ctest
    test::g_world = comm::make_communicator(launch, Device::cpu(), options);
  } catch (const Error& e) {
    std::fprintf(stderr, "rsd_mpi_tests: %s\n", e.what());
    return 2;
  }
  comm::Communicator& world = test::mpi_world();

  doctest::Context context(argc, argv);
  if (world.rank() != 0) {
    context.setOption("minimal", true);
    context.setOption("no-version", true);
  }
  const int failed = context.run();
  if (failed != 0)
    std::printf("rsd_mpi_tests: rank %d of %d had failures (above)\n", world.rank(), world.world_size());
  std::fflush(stdout);

  int failed_ranks = 0;
  try {
    Tensor flag = Tensor::from_vector({failed != 0 ? 1.0 : 0.0}, {1}, DType::f64);
    world.all_reduce(flag, comm::ReduceOp::sum);
    failed_ranks = static_cast<int>(flag.item());
  } catch (const Error& e) {
    world.abort(str_cat("rsd_mpi_tests: the ranks could not agree on the outcome: ", e.what()));
  }
  if (world.rank() == 0)
    std::printf("rsd_mpi_tests: %d of %d ranks failed\n", failed_ranks, world.world_size());
  test::g_world.reset();
  return failed_ranks == 0 ? 0 : 1;
}
