// The launch bootstrap (engine/comm/bootstrap) on hand-made environments, make_communicator's
// choices and errors, and the world-size-1 communicator with the autograd collectives. The
// multi-process backends are tested under mpirun by tests/mpi/.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <string>

#include "engine/autograd.h"
#include "engine/comm/bootstrap.h"
#include "engine/comm/collective_ops.h"
#include "engine/comm/communicator.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "tests/support/checks.h"
#include "tests/support/runner.h"

using namespace rsd;
using namespace rsd::test;
using namespace rsd::comm;
namespace {

using Env = std::map<std::string, std::string>;

LaunchInfo launch_from(const Env& env) {
  return detect_launch([&env](const std::string& name) -> std::optional<std::string> {
    const auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  });
}

// The error detect_launch throws for env (empty when it throws none).
std::string launch_error(const Env& env) {
  try {
    launch_from(env);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const Env kOpenMpiRank1Of3 = {{"OMPI_COMM_WORLD_RANK", "1"},       {"OMPI_COMM_WORLD_SIZE", "3"},
                              {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"},
                              {"PMIX_RANK", "1"}};

Env with(Env env, const Env& more) {
  for (const auto& [k, v] : more) env[k] = v;
  return env;
}

}  // namespace

TEST_SUITE("comm") {
  TEST_CASE("no launcher: rank 0 of 1") {
    const LaunchInfo l = launch_from({});
    CHECK(l.rank == 0);
    CHECK(l.world_size == 1);
    CHECK(l.local_rank == 0);
    CHECK(l.local_world_size == 1);
    CHECK(l.source == "single");
    CHECK_FALSE(l.under_mpi);
    CHECK(l.describe() == "rank 0 of 1 (local 0 of 1), from single");
    // Stray variables of a launcher that is not there do not make a launch.
    CHECK(launch_from({{"LOCAL_RANK", "3"}, {"SLURM_NTASKS", "4"}, {"OMPI_COMM_WORLD_SIZE", "2"}}).source == "single");
  }

  TEST_CASE("OpenMPI's variables") {
    const LaunchInfo l = launch_from(kOpenMpiRank1Of3);
    CHECK(l.rank == 1);
    CHECK(l.world_size == 3);
    CHECK(l.local_rank == 1);
    CHECK(l.local_world_size == 2);
    CHECK(l.source == "mpi");
    CHECK(l.under_mpi);
    CHECK(l.describe() == "rank 1 of 3 (local 1 of 2), from mpi");
  }

  TEST_CASE("MPICH / PMI variables") {
    LaunchInfo l = launch_from({{"PMI_RANK", "2"}, {"PMI_SIZE", "4"}});
    CHECK(l.rank == 2);
    CHECK(l.world_size == 4);
    CHECK(l.source == "mpi");
    CHECK(l.under_mpi);
    // No local variables: one node holds every rank.
    CHECK(l.local_rank == 2);
    CHECK(l.local_world_size == 4);
    l = launch_from({{"PMI_RANK", "3"}, {"PMI_SIZE", "4"}, {"MPI_LOCALRANKID", "1"}, {"MPI_LOCALNRANKS", "2"}});
    CHECK(l.local_rank == 1);
    CHECK(l.local_world_size == 2);
  }

  TEST_CASE("srun's variables") {
    LaunchInfo l = launch_from(
        {{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "1"}, {"SLURM_NTASKS_PER_NODE", "4"}});
    CHECK(l.rank == 5);
    CHECK(l.world_size == 8);
    CHECK(l.local_rank == 1);
    CHECK(l.local_world_size == 4);
    CHECK(l.source == "slurm");
    CHECK_FALSE(l.under_mpi);
    // SLURM_NPROCS is the older name; without --ntasks-per-node the local size is not known and
    // the world size stands for it.
    l = launch_from({{"SLURM_PROCID", "2"}, {"SLURM_NPROCS", "3"}, {"SLURM_LOCALID", "2"}});
    CHECK(l.world_size == 3);
    CHECK(l.local_rank == 2);
    CHECK(l.local_world_size == 3);
    // srun --mpi=pmix: PMIx and Slurm describe the same tasks.
    l = launch_from({{"PMIX_RANK", "1"}, {"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}, {"SLURM_LOCALID", "0"}});
    CHECK(l.source == "mpi");
    CHECK(l.under_mpi);
    CHECK(l.rank == 1);
    CHECK(l.world_size == 2);
    CHECK(l.local_rank == 0);
  }

  TEST_CASE("torchrun-style variables") {
    const LaunchInfo l = launch_from({{"RANK", "3"},
                                      {"WORLD_SIZE", "4"},
                                      {"LOCAL_RANK", "1"},
                                      {"LOCAL_WORLD_SIZE", "2"},
                                      {"MASTER_ADDR", "node-0"},
                                      {"MASTER_PORT", "29500"}});
    CHECK(l.rank == 3);
    CHECK(l.world_size == 4);
    CHECK(l.local_rank == 1);
    CHECK(l.local_world_size == 2);
    CHECK(l.source == "env");
    CHECK_FALSE(l.under_mpi);
    CHECK(l.master_addr == "node-0");
    CHECK(l.master_port == 29500);
  }

  TEST_CASE("MPI and environment variables that agree") {
    const LaunchInfo l = launch_from(with(kOpenMpiRank1Of3, {{"RANK", "1"},
                                                             {"WORLD_SIZE", "3"},
                                                             {"LOCAL_RANK", "1"},
                                                             {"LOCAL_WORLD_SIZE", "2"},
                                                             {"MASTER_ADDR", "10.0.0.1"},
                                                             {"MASTER_PORT", "1234"}}));
    CHECK(l.source == "mpi");
    CHECK(l.under_mpi);
    CHECK(l.rank == 1);
    CHECK(l.world_size == 3);
    CHECK(l.master_addr == "10.0.0.1");
    CHECK(l.master_port == 1234);
  }

  TEST_CASE("every disagreement names both variables and values") {
    CHECK(launch_error(with(kOpenMpiRank1Of3, {{"RANK", "0"}, {"WORLD_SIZE", "3"}})).find(
              "launch: OMPI_COMM_WORLD_RANK=1 but RANK=0: the launch variables disagree on this process's rank") == 0);
    CHECK(launch_error(with(kOpenMpiRank1Of3, {{"RANK", "1"}, {"WORLD_SIZE", "2"}})).find(
              "OMPI_COMM_WORLD_SIZE=3 but WORLD_SIZE=2") != std::string::npos);
    CHECK(launch_error(with(kOpenMpiRank1Of3, {{"RANK", "1"}, {"WORLD_SIZE", "3"}, {"LOCAL_RANK", "0"}})).find(
              "OMPI_COMM_WORLD_LOCAL_RANK=1 but LOCAL_RANK=0") != std::string::npos);
    CHECK(launch_error(with(kOpenMpiRank1Of3, {{"RANK", "1"}, {"WORLD_SIZE", "3"}, {"LOCAL_WORLD_SIZE", "3"}}))
              .find("OMPI_COMM_WORLD_LOCAL_SIZE=2 but LOCAL_WORLD_SIZE=3: the launch variables disagree on this "
                    "process's local world size") != std::string::npos);
    // Within one launcher's variables.
    CHECK(launch_error(with(kOpenMpiRank1Of3, {{"PMIX_RANK", "2"}})).find("OMPI_COMM_WORLD_RANK=1 but PMIX_RANK=2") !=
          std::string::npos);
    CHECK(launch_error({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}, {"SLURM_NPROCS", "3"}})
              .find("SLURM_NTASKS=2 but SLURM_NPROCS=3") != std::string::npos);
    // Slurm against MPI and against the environment, describing the same number of tasks.
    CHECK(launch_error(with(kOpenMpiRank1Of3, {{"SLURM_PROCID", "2"}, {"SLURM_NTASKS", "3"}}))
              .find("OMPI_COMM_WORLD_RANK=1 but SLURM_PROCID=2") != std::string::npos);
    CHECK(launch_error({{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}, {"RANK", "0"}, {"WORLD_SIZE", "2"}})
              .find("SLURM_PROCID=1 but RANK=0") != std::string::npos);
    CHECK(launch_error({{"SLURM_PROCID", "1"},
                        {"SLURM_NTASKS", "2"},
                        {"SLURM_LOCALID", "1"},
                        {"RANK", "1"},
                        {"WORLD_SIZE", "2"},
                        {"LOCAL_RANK", "0"}})
              .find("SLURM_LOCALID=1 but LOCAL_RANK=0") != std::string::npos);
    CHECK(launch_error({{"PMI_RANK", "0"}, {"PMI_SIZE", "2"}, {"RANK", "0"}, {"WORLD_SIZE", "4"}})
              .find("PMI_SIZE=2 but WORLD_SIZE=4") != std::string::npos);
    CHECK(launch_error(with(kOpenMpiRank1Of3, {{"RANK", "0"}})).find("Unset the stale ones") != std::string::npos);
  }

  TEST_CASE("Slurm around an inner launcher describes the allocation, not this process") {
    // mpirun inside an sbatch script: the batch step's SLURM_PROCID=0 of 1.
    LaunchInfo l = launch_from(with(kOpenMpiRank1Of3, {{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}}));
    CHECK(l.source == "mpi");
    CHECK(l.rank == 1);
    CHECK(l.world_size == 3);
    // srun starting one torchrun per node, each starting 8 processes.
    l = launch_from({{"SLURM_PROCID", "1"},
                     {"SLURM_NTASKS", "2"},
                     {"SLURM_LOCALID", "0"},
                     {"RANK", "9"},
                     {"WORLD_SIZE", "16"},
                     {"LOCAL_RANK", "1"},
                     {"LOCAL_WORLD_SIZE", "8"}});
    CHECK(l.source == "env");
    CHECK(l.rank == 9);
    CHECK(l.world_size == 16);
    CHECK(l.local_rank == 1);
    CHECK(l.local_world_size == 8);
  }

  TEST_CASE("malformed integers are errors that name the variable") {
    for (const std::string bad : {"", "x", "1x", " 1", "1 ", "1.0", "0x1", "99999999999", "+-1"}) {
      CAPTURE(bad);
      const std::string e = launch_error({{"RANK", bad}, {"WORLD_SIZE", "2"}});
      CHECK(e.find("launch: RANK='" + bad + "' is not an integer") == 0);
    }
    CHECK(launch_error({{"RANK", "0"}, {"WORLD_SIZE", "two"}}).find("WORLD_SIZE='two' is not an integer") !=
          std::string::npos);
    CHECK(launch_error(with(kOpenMpiRank1Of3, {{"OMPI_COMM_WORLD_LOCAL_RANK", "1a"}}))
              .find("OMPI_COMM_WORLD_LOCAL_RANK='1a'") != std::string::npos);
    CHECK(launch_error({{"MASTER_PORT", "port"}}).find("MASTER_PORT='port' is not an integer") != std::string::npos);
    CHECK(launch_error({{"MASTER_PORT", "70000"}}).find("MASTER_PORT=70000 is not a TCP port") != std::string::npos);
    CHECK(launch_error({{"MASTER_PORT", "0"}}).find("MASTER_PORT=0 is not a TCP port") != std::string::npos);
  }

  TEST_CASE("ranks and sizes out of range") {
    CHECK(launch_error({{"RANK", "2"}, {"WORLD_SIZE", "2"}}).find("RANK=2 is not a rank of WORLD_SIZE=2") !=
          std::string::npos);
    CHECK(launch_error({{"RANK", "-1"}, {"WORLD_SIZE", "2"}}).find("RANK=-1 is not a rank of WORLD_SIZE=2") !=
          std::string::npos);
    CHECK(launch_error({{"RANK", "0"}, {"WORLD_SIZE", "0"}}).find("WORLD_SIZE=0 is not a world size") !=
          std::string::npos);
    CHECK(launch_error({{"OMPI_COMM_WORLD_RANK", "3"}, {"OMPI_COMM_WORLD_SIZE", "3"}})
              .find("OMPI_COMM_WORLD_RANK=3 is not a rank of OMPI_COMM_WORLD_SIZE=3") != std::string::npos);
    CHECK(launch_error({{"RANK", "1"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "2"}, {"LOCAL_WORLD_SIZE", "2"}})
              .find("LOCAL_RANK=2 is not a local rank of LOCAL_WORLD_SIZE=2") != std::string::npos);
    CHECK(launch_error({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "0"}, {"LOCAL_WORLD_SIZE", "3"}})
              .find("LOCAL_WORLD_SIZE=3 is not between 1 and the world size WORLD_SIZE=2") != std::string::npos);
    CHECK(launch_error({{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}, {"SLURM_LOCALID", "2"}})
              .find("SLURM_LOCALID=2 is not a local rank of the world size SLURM_NTASKS=2") != std::string::npos);
  }

  TEST_CASE("half-set launches") {
    CHECK(launch_error({{"WORLD_SIZE", "2"}}).find("WORLD_SIZE=2 is set but RANK is not") != std::string::npos);
    CHECK(launch_error({{"RANK", "1"}}).find("RANK=1 is set but no variable gives the world size") !=
          std::string::npos);
    CHECK(launch_error({{"PMIX_RANK", "0"}}).find("PMIX_RANK=0 is set but no variable gives the world size") !=
          std::string::npos);
    CHECK(launch_error({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"LOCAL_WORLD_SIZE", "2"}})
              .find("LOCAL_WORLD_SIZE=2 is set but no variable gives the local rank") != std::string::npos);
  }

  TEST_CASE("make_communicator picks the backend or says what is missing") {
    CHECK(backend_available("single"));
    CHECK(backend_available("mpi") == (RSD_HAVE_MPI != 0));
    CHECK(backend_available("nccl") == (RSD_HAVE_NCCL != 0));
    CHECK_FALSE(backend_available("gloo"));

    const LaunchInfo one = launch_from({});
    CHECK(make_communicator(one, Device::cpu())->backend() == "single");
    // No GPU is touched for a world of one with the automatic choice.
    CHECK(make_communicator(one, Device::cuda(0))->backend() == "single");

    const LaunchInfo two = launch_from({{"RANK", "1"}, {"WORLD_SIZE", "2"}});
    CHECK_THROWS_WITH_AS(make_communicator(two, Device::cpu()),
                         doctest::Contains("CPU training across processes needs MPI: launch with mpirun -np 2 "
                                           "(this process was started by env as rank 1 of 2)"),
                         Error);
    CommOptions single;
    single.backend = "single";
    CHECK_THROWS_WITH_AS(make_communicator(two, Device::cpu(), single),
                         doctest::Contains("backend \"single\" runs one process"), Error);
    CommOptions mpi;
    mpi.backend = "mpi";
    CHECK_THROWS_WITH_AS(make_communicator(one, Device::cpu(), mpi), doctest::Contains("needs an MPI launcher"),
                         Error);
    CHECK_THROWS_WITH_AS(make_communicator(one, Device::cuda(0), mpi),
                         doctest::Contains("the mpi backend moves CPU tensors, not cuda:0"), Error);
    CommOptions nccl;
    nccl.backend = "nccl";
    CHECK_THROWS_WITH_AS(make_communicator(one, Device::cpu(), nccl),
                         doctest::Contains("the nccl backend moves CUDA tensors, not cpu"), Error);
    if (!backend_available("nccl")) {
      CHECK_THROWS_WITH_AS(make_communicator(one, Device::cuda(0), nccl), doctest::Contains("needs the nccl backend"),
                           Error);
    } else if (cuda_device_count() == 0) {
      CHECK_THROWS_WITH_AS(make_communicator(one, Device::cuda(0), nccl), doctest::Contains("cuda:0 is not available"),
                           Error);
    }
    CommOptions unknown;
    unknown.backend = "gloo";
    CHECK_THROWS_WITH_AS(make_communicator(one, Device::cpu(), unknown),
                         doctest::Contains("unknown backend \"gloo\" (expected auto, single, mpi or nccl)"), Error);
    CommOptions no_time;
    no_time.timeout_seconds = 0;
    CHECK_THROWS_WITH_AS(make_communicator(one, Device::cpu(), no_time),
                         doctest::Contains("timeout_seconds = 0 is not a positive number of seconds"), Error);
  }

  TEST_CASE("the single communicator: identity collectives that return copies") {
    auto c = make_communicator(launch_from({}), Device::cpu());
    CHECK(c->rank() == 0);
    CHECK(c->world_size() == 1);
    CHECK(c->local_rank() == 0);
    CHECK(c->device() == Device::cpu());
    CHECK(c->timeout_seconds() == 300);

    const std::vector<double> v = {1.5, -2.0, 3.25, 0.0, 7.0, -1.0};
    for (DType dt : {DType::f32, DType::f64}) {
      CAPTURE(dtype_name(dt));
      Tensor t = Tensor::from_vector(v, {2, 3}, dt);
      c->all_reduce(t, ReduceOp::sum);
      CHECK(t.to_host_doubles() == v);
      c->all_reduce(t, ReduceOp::average);
      CHECK(t.to_host_doubles() == v);
      auto work = c->all_reduce_async(t, ReduceOp::average);
      CHECK(work->test());
      work->wait();
      work->wait();
      CHECK(t.to_host_doubles() == v);

      const Tensor g = c->all_gather(t);
      CHECK(g.shape() == t.shape());
      CHECK(g.dtype() == dt);
      CHECK(g.to_host_doubles() == v);
      CHECK(g.raw() != t.raw());
      const Tensor r = c->reduce_scatter(t, ReduceOp::sum);
      CHECK(r.to_host_doubles() == v);
      CHECK(r.raw() != t.raw());
      c->broadcast(t, 0);
      CHECK(t.to_host_doubles() == v);
      c->barrier();
    }
    Tensor t = Tensor::from_vector({1.0}, {1}, DType::f32);
    CHECK_THROWS_WITH_AS(c->broadcast(t, 1),
                         doctest::Contains("single broadcast: root 1 is not a rank of this world of 1"), Error);
    const Tensor scalar = Tensor::from_vector({1.0}, {}, DType::f32);
    CHECK_THROWS_WITH_AS(c->all_gather(scalar), doctest::Contains("has no first dimension"), Error);
    Tensor undefined;
    CHECK_THROWS_WITH_AS(c->all_reduce(undefined, ReduceOp::sum),
                         doctest::Contains("single all_reduce: undefined tensor"), Error);

    // A tensor on another device than the communicator's is refused (no GPU needed to check).
    auto on_gpu = make_communicator(launch_from({}), Device::cuda(0));
    Tensor cpu_t = Tensor::from_vector({1.0, 2.0}, {2}, DType::f32);
    CHECK_THROWS_WITH_AS(on_gpu->all_reduce(cpu_t, ReduceOp::sum),
                         doctest::Contains("tensor f32[2]@cpu is not on the communicator's device cuda:0"), Error);
  }

  TEST_CASE("autograd collectives with one rank pass gradients through") {
    auto c = make_communicator(launch_from({}), Device::cpu());
    const std::vector<double> v = {0.5, -1.0, 2.0, 0.25, -0.75, 1.5};

    Tensor x = leaf(v, {3, 2});
    Tensor y = all_gather_rows(x, *c);
    CHECK(y.shape() == Shape{3, 2});
    CHECK(y.to_host_doubles() == v);
    CHECK(tape().op_names() == std::vector<std::string>{"all_gather_rows"});
    backward(sum(exp(y)));
    std::vector<double> gx = x.grad().to_host_doubles();
    for (size_t i = 0; i < v.size(); ++i) CHECK(gx[i] == doctest::Approx(std::exp(v[i])).epsilon(1e-15));

    Tensor x2 = leaf(v, {2, 3});
    Tensor s = all_reduce_sum(x2, *c);
    CHECK(s.to_host_doubles() == v);
    CHECK_FALSE(s.same(x2));
    // s used twice: its gradient is the sum of both uses.
    backward(sum(add(exp(s), s)));
    gx = x2.grad().to_host_doubles();
    for (size_t i = 0; i < v.size(); ++i) CHECK(gx[i] == doctest::Approx(std::exp(v[i]) + 1.0).epsilon(1e-15));

    // Without grad mode nothing is recorded.
    NoGradScope no_grad;
    Tensor z = all_gather_rows(x, *c);
    CHECK_FALSE(z.requires_grad());
    CHECK(tape().size() == 0);
  }
}

TEST_SUITE("comm" * rsd::test::on_gpu()) {
  // The GPU test of issue 7 runs whole training steps on an NCCL world of one; this checks the
  // communicator itself wherever NCCL is in the build.
  TEST_CASE("nccl with one rank: identity collectives on CUDA tensors, autograd included") {
    if (!backend_available("nccl")) {
      MESSAGE("not run here: this build has no NCCL");
      return;
    }
    CommOptions options;
    options.backend = "nccl";
    options.timeout_seconds = 60;
    auto c = make_communicator(launch_from({}), Device::cuda(0), options);
    REQUIRE(c->backend() == "nccl");
    CHECK(c->world_size() == 1);
    const std::vector<double> v = {1.5, -2.0, 3.25, 0.0, 7.0, -1.0};  // exact in bf16
    for (DType dt : {DType::f32, DType::bf16, DType::f64}) {
      CAPTURE(dtype_name(dt));
      Tensor t = Tensor::from_vector(v, {2, 3}, dt, Device::cuda(0));
      c->all_reduce(t, ReduceOp::sum);
      CHECK(t.to_host_doubles() == v);
      c->all_reduce(t, ReduceOp::average);
      CHECK(t.to_host_doubles() == v);
      auto work = c->all_reduce_async(t, ReduceOp::sum);
      work->wait();
      CHECK(work->test());
      CHECK(t.to_host_doubles() == v);
      const Tensor g = c->all_gather(t);
      CHECK(g.raw() != t.raw());
      CHECK(g.to_host_doubles() == v);
      CHECK(c->reduce_scatter(t, ReduceOp::average).to_host_doubles() == v);
      c->broadcast(t, 0);
      CHECK(t.to_host_doubles() == v);
      c->barrier();
    }
    Tensor i32 = Tensor::from_ints({1, 2}, {2}, Device::cuda(0));
    CHECK_THROWS_WITH_AS(c->all_reduce(i32, ReduceOp::sum), doctest::Contains("moves f32, bf16 and f64"), Error);

    Tensor x = Tensor::from_vector(v, {3, 2}, DType::f32, Device::cuda(0));
    x.set_requires_grad(true);
    backward(sum(exp(all_gather_rows(x, *c))));
    const std::vector<double> gx = x.grad().to_host_doubles();
    for (size_t i = 0; i < v.size(); ++i) CHECK(gx[i] == doctest::Approx(std::exp(v[i])).epsilon(1e-6));
  }
}

// The launch as mpirun describes it, and the ctest entry that also sets the torchrun-style
// variables (mpi_env_np2): both sources are read and must agree with MPI's own view.
using rsd::test::mpi_world;

namespace {
int env_int(const char* name) { return std::atoi(std::getenv(name)); }
}  // namespace

TEST_SUITE("comm" * rsd::test::on_mpi()) {
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
