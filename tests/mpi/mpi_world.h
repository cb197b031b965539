// The world communicator of rsd_mpi_tests (tests/mpi/main_mpi.cpp builds it once, from the
// launch variables mpirun sets, before any test runs). Every rank runs every test case in the
// same order, so a test may call collectives on it as long as every rank makes the same calls.
#pragma once
#include "engine/comm/communicator.h"

namespace rsd::test {

rsd::comm::Communicator& mpi_world();

}  // namespace rsd::test
