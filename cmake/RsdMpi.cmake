# MPI for the CPU communicator backend (engine/comm/mpi_communicator.cpp) and the multi-process
# tests (tests/mpi/). Optional: a machine without it (the GPU machine) builds the single and NCCL
# backends only, and asking for the MPI backend there is an error that says how to get it.
# Sets RSD_HAVE_MPI (0/1) and RSD_MPI_SUMMARY; when found, MPI::MPI_CXX and FindMPI's
# MPIEXEC_EXECUTABLE / MPIEXEC_NUMPROC_FLAG / MPIEXEC_PREFLAGS / MPIEXEC_POSTFLAGS.
option(RSD_MPI "Build the MPI backend when an MPI library is found" ON)

set(RSD_HAVE_MPI 0)
set(RSD_MPI_SUMMARY "not used")
if(NOT RSD_MPI)
  return()
endif()

set(MPI_DETERMINE_LIBRARY_VERSION TRUE)
find_package(MPI COMPONENTS CXX QUIET)
if(MPI_CXX_FOUND)
  set(RSD_HAVE_MPI 1)
  set(RSD_MPI_SUMMARY "${MPI_CXX_LIBRARY_VERSION_STRING}")
  if(NOT RSD_MPI_SUMMARY)
    set(RSD_MPI_SUMMARY "MPI ${MPI_CXX_VERSION}")
  endif()
  # The library version string is a full sentence with a date; keep its first line.
  string(REGEX REPLACE "[\r\n].*" "" RSD_MPI_SUMMARY "${RSD_MPI_SUMMARY}")
  string(REGEX REPLACE ",.*" "" RSD_MPI_SUMMARY "${RSD_MPI_SUMMARY}")
else()
  set(RSD_MPI_SUMMARY "not found (apt-get install libopenmpi-dev openmpi-bin for CPU runs across processes)")
endif()
