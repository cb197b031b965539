// The thread budget (engine/threads.h) and the choice of CPU backend (engine/op.h): defaults a
// user gets without flags, and bad values refused with errors that say what to give.
#include <doctest/doctest.h>

#include <thread>

#include "engine/op.h"
#include "engine/threads.h"
#include "tests/support/harness.h"

using namespace rsd;
using rsd::test::error_of;

TEST_SUITE("threads") {
  TEST_CASE("the budget defaults to the usable cores, is set for the process, and refuses less than 1") {
    const int cores = usable_cores();
    CHECK(cores >= 1);
    CHECK(cores <= static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    const int before = thread_budget();
    set_thread_budget(1);
    CHECK(thread_budget() == 1);
    CHECK(describe_thread_budget().find("1 thread (of ") == 0);
    CHECK(error_of([] { set_thread_budget(0); }).find("--threads must be at least 1, got 0") != std::string::npos);
    set_thread_budget(before);
    CHECK(thread_budget() == before);
  }

  TEST_CASE("CPU backends: the reference always, oneDNN where built in; a bad name says the choices") {
    CHECK(cpu_backend_available(Backend::cpu));
    CHECK_FALSE(cpu_backend_available(Backend::cuda));
    CHECK(parse_cpu_backend("reference") == Backend::cpu);
    CHECK(error_of([] { parse_cpu_backend("mkl"); }).find("use reference or onednn") != std::string::npos);
    if (cpu_backend_available(Backend::onednn)) {
      CHECK(parse_cpu_backend("onednn") == Backend::onednn);
    } else {
      CHECK(error_of([] { parse_cpu_backend("onednn"); }).find("no oneDNN backend") != std::string::npos);
    }
    {
      const CpuBackendScope reference(Backend::cpu);
      CHECK(selected_cpu_backend() == Backend::cpu);
      CHECK(describe_cpu_compute().find("CPU (reference) kernels, ") == 0);
    }
    CHECK(error_of([] { CpuBackendScope gpu(Backend::cuda); }).find("not a CPU backend") != std::string::npos);
  }
}
