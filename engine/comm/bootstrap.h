// Bootstrap: who this process is in the job, from the launcher's environment variables.
//
// Sources, checked in this order; every source present must agree with the others on rank,
// world size and local rank, else detect_launch throws an error naming the variables:
//   mpi     mpirun / mpiexec: OMPI_COMM_WORLD_{RANK,SIZE,LOCAL_RANK,LOCAL_SIZE} (OpenMPI),
//           PMI_RANK / PMI_SIZE, PMIX_RANK (MPICH, srun --mpi=pmi2|pmix)
//   slurm   srun: SLURM_PROCID, SLURM_NTASKS (or SLURM_NPROCS), SLURM_LOCALID,
//           SLURM_NTASKS_PER_NODE; the first host of SLURM_JOB_NODELIST is not resolved here
//   env     torchrun-style: RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR,
//           MASTER_PORT (NCCL bootstraps from MASTER_ADDR:MASTER_PORT through NCCL_COMM_ID)
//   single  none of them: rank 0 of 1
// The GPU of a rank is its local rank.
#pragma once
#include <functional>
#include <optional>
#include <string>

namespace rsd::comm {

struct LaunchInfo {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
  std::string source = "single";  // the first source found: mpi, slurm, env or single
  bool under_mpi = false;         // an MPI launcher started this process (MPI_Init will work)
  std::string master_addr;        // env source (and slurm when MASTER_ADDR is set)
  int master_port = 0;
  std::string describe() const;   // "rank 1 of 4 (local 1 of 2), from mpi"
};

// name -> value, or nullopt when unset (getenv in production, a map in tests).
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

LaunchInfo detect_launch(const EnvLookup& env);
LaunchInfo detect_launch();  // from this process's environment

}  // namespace rsd::comm
