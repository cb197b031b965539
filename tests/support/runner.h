// Which runner a test case needs, as a doctest decorator, and the world communicator of the MPI
// runner. All test cases live in one binary, rsd_tests, in the file of the component they test;
// the runner is a label on the suite name that tests/main.cpp filters on and that ctest's suite
// discovery (tests/suite_tests.cmake) turns into the right command:
//   TEST_SUITE("batchnorm")                 CPU: plain process, any machine
//   TEST_SUITE("batchnorm" * on_gpu())      suite "batchnorm:gpu": needs a GPU, skipped (77) without
//   TEST_SUITE("batchnorm" * on_mpi())      suite "batchnorm:mpi": every rank of mpirun -np 2 and 3
// The decorators also apply to one case inside a suite: TEST_CASE("..." * on_gpu()).
// The emulated kernels are not a runner of this binary: they are a separate build of kernels/*.cu
// translated to C++ (tests/emulation/).
#pragma once
#include <doctest/doctest.h>

#include "engine/comm/communicator.h"

namespace rsd::test {

// The label a runner puts after the component's suite name ("" for the CPU).
enum class Runner { cpu, gpu, mpi };
const char* runner_label(Runner runner);

// "batchnorm" -> "batchnorm:gpu": a name that lives as long as the program (doctest keeps
// the pointer).
const char* labelled_suite(const char* suite, Runner runner);

template <Runner R>
struct on_runner {
  void fill(doctest::detail::TestSuite& state) const { state.m_test_suite = labelled_suite(state.m_test_suite, R); }
  void fill(doctest::detail::TestCase& state) const { state.m_test_suite = labelled_suite(state.m_test_suite, R); }
};
using on_gpu = on_runner<Runner::gpu>;
using on_mpi = on_runner<Runner::mpi>;

// The world of the MPI runner, built once by tests/main.cpp from the launch variables mpirun sets
// before any case runs. Every rank runs every case in the same order, so a case may call
// collectives on it as long as every rank makes the same calls. Only in cases labelled on_mpi.
rsd::comm::Communicator& mpi_world();

}  // namespace rsd::test
