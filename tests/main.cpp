// The entry point of rsd_tests, every component's cases in one binary. `--runner` picks which
// cases this process may run (tests/support/runner.h):
//   --runner=cpu (default)  the unlabelled suites
//   --runner=gpu            the suites labelled :gpu; without a usable GPU it says why, lists the
//                           ops whose CUDA parity is therefore unverified, and exits 77 (ctest:
//                           skipped, not passed)
//   --runner=mpi            the suites labelled :mpi, on every rank of an mpirun; the ranks agree
//                           on the outcome, so every rank exits 1 when a case failed on any
//   --runner=all            only with --list-test-suites / --count: every suite (ctest's discovery)
// Everything else is doctest's command line (--test-suite, --test-case, ...).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine/comm/bootstrap.h"
#include "engine/device.h"
#include "tests/support/op_cases.h"
#include "tests/support/runner.h"
#include "engine/shutdown.h"

namespace rsd::test {

namespace {

std::unique_ptr<rsd::comm::Communicator> g_world;

// The --test-suite patterns given on the command line (doctest's long, short and dt- spellings).
std::vector<std::string> suite_patterns(int argc, char** argv) {
  std::vector<std::string> patterns;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    for (const char* prefix : {"--test-suite=", "-ts=", "--dt-test-suite=", "--dt-ts="}) {
      if (arg.rfind(prefix, 0) != 0) continue;
      std::string list = arg.substr(std::strlen(prefix));
      for (size_t start = 0; start <= list.size();) {
        const size_t comma = std::min(list.find(',', start), list.size());
        patterns.push_back(list.substr(start, comma - start));
        start = comma + 1;
      }
    }
  }
  return patterns;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Restricts the context to the runner's suites. A --test-suite pattern of another runner is an
// error rather than silently matching nothing.
bool select_runner(doctest::Context& context, Runner runner, int argc, char** argv) {
  if (runner == Runner::cpu) {
    context.addFilter("test-suite-exclude", "*:gpu");
    context.addFilter("test-suite-exclude", "*:mpi");
    return true;
  }
  const std::string label = std::string(":") + runner_label(runner);
  const std::vector<std::string> patterns = suite_patterns(argc, argv);
  for (const std::string& p : patterns) {
    if (ends_with(p, label) || ends_with(p, "*")) continue;
    std::fprintf(stderr, "rsd_tests: --runner=%s runs only suites labelled %s; --test-suite=%s is not one\n",
                 runner_label(runner), label.c_str(), p.c_str());
    return false;
  }
  if (patterns.empty()) context.addFilter("test-suite", ("*" + label).c_str());
  for (const Runner other : {Runner::gpu, Runner::mpi})
    if (other != runner) context.addFilter("test-suite-exclude", (std::string("*:") + runner_label(other)).c_str());
  return true;
}

int skip_without_gpu() {
  std::printf("SKIPPED: the GPU suites (op parity, optimizers, losses, RNG, training on CUDA) need a GPU: %s\n",
              rsd::cuda_unavailable_reason().c_str());
  std::set<std::string> ops;
  for (const OpCase& c : op_cases()) ops.insert(c.op);
  std::printf("not verified on CUDA here (%zu ops, %zu cases):", ops.size(), op_cases().size());
  for (const std::string& op : ops) std::printf(" %s", op.c_str());
  std::printf("\n");
  return 77;
}

// Every rank runs the cases; rank 0 prints the usual report, the other ranks only their failures.
int run_on_every_rank(doctest::Context& context) {
  using namespace rsd;
  try {
    const comm::LaunchInfo launch = comm::detect_launch();
    if (!launch.under_mpi) {
      std::fprintf(stderr, "rsd_tests --runner=mpi: run it under mpirun -np N (N >= 2); this process is %s\n",
                   launch.describe().c_str());
      return 2;
    }
    comm::CommOptions options;
    options.backend = "mpi";
    options.timeout_seconds = 60;  // a case that leaves a rank behind fails instead of hanging ctest
    g_world = comm::make_communicator(launch, Device::cpu(), options);
  } catch (const Error& e) {
    std::fprintf(stderr, "rsd_tests --runner=mpi: %s\n", e.what());
    return 2;
  }
  comm::Communicator& world = *g_world;
  if (world.rank() != 0) {
    context.setOption("minimal", true);
    context.setOption("no-version", true);
  }
  const int failed = context.run();
  if (failed != 0) std::printf("rsd_tests: rank %d of %d had failures (above)\n", world.rank(), world.world_size());
  std::fflush(stdout);

  int failed_ranks = 0;
  try {
    Tensor flag = Tensor::from_vector({failed != 0 ? 1.0 : 0.0}, {1}, DType::f64);
    world.all_reduce(flag, comm::ReduceOp::sum);
    failed_ranks = static_cast<int>(flag.item());
  } catch (const Error& e) {
    world.abort(str_cat("rsd_tests: the ranks could not agree on the outcome: ", e.what()));
  }
  if (world.rank() == 0) std::printf("rsd_tests: %d of %d ranks failed\n", failed_ranks, world.world_size());
  g_world.reset();
  return failed_ranks == 0 ? 0 : 1;
}

}  // namespace

const char* runner_label(Runner runner) {
  switch (runner) {
    case Runner::cpu: return "cpu";
    case Runner::gpu: return "gpu";
    case Runner::mpi: return "mpi";
  }
  return "?";
}

const char* labelled_suite(const char* suite, Runner runner) {
  static std::set<std::string>* names = new std::set<std::string>;  // lives as long as doctest's pointers
  if (runner == Runner::cpu) return suite;
  return names->insert(std::string(suite ? suite : "") + ":" + runner_label(runner)).first->c_str();
}

rsd::comm::Communicator& mpi_world() {
  if (!g_world) throw rsd::Error("mpi_world(): only cases labelled on_mpi, run with --runner=mpi, have a world");
  return *g_world;
}

}  // namespace rsd::test

int main(int argc, char** argv) {
  rsd::ShutdownAtExit shutdown_at_exit;  // ends the device state before static destruction (engine/shutdown.h)
  using rsd::test::Runner;
  // --runner=... is ours: taken out before doctest reads the rest.
  std::string runner_name = "cpu";
  std::vector<char*> args;
  bool listing = false;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i > 0 && arg.rfind("--runner=", 0) == 0) {
      runner_name = arg.substr(9);
      continue;
    }
    listing = listing || arg.rfind("--list-test-", 0) == 0 || arg.rfind("--count", 0) == 0 || arg == "-ltc" ||
              arg == "-lts" || arg == "-c";
    args.push_back(argv[i]);
  }
  const int n = static_cast<int>(args.size());
  doctest::Context context(n, args.data());
  if (runner_name == "all") {
    if (listing) return context.run();
    std::fprintf(stderr, "rsd_tests: --runner=all only lists or counts (--list-test-suites, --count); "
                         "to run, pick --runner=cpu, gpu or mpi\n");
    return 2;
  }
  Runner runner;
  if (runner_name == "cpu") runner = Runner::cpu;
  else if (runner_name == "gpu") runner = Runner::gpu;
  else if (runner_name == "mpi") runner = Runner::mpi;
  else {
    std::fprintf(stderr, "rsd_tests: unknown --runner=%s (cpu, gpu, mpi or all)\n", runner_name.c_str());
    return 2;
  }
  if (!rsd::test::select_runner(context, runner, n, args.data())) return 2;
  if (listing) return context.run();
  if (runner == Runner::gpu && rsd::cuda_device_count() == 0) return rsd::test::skip_without_gpu();
  if (runner == Runner::mpi) return rsd::test::run_on_every_rank(context);
  return context.run();
}
