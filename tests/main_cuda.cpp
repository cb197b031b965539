// The GPU suite's entry point, and the one place it is skipped: without a usable GPU it says why,
// lists the ops whose CUDA parity is therefore unverified on this machine, and exits 77, which
// ctest reports as skipped (SKIP_RETURN_CODE) rather than passed. The test files assume a GPU.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <set>
#include <string>

#include "engine/device.h"
#include "tests/support/op_cases.h"

int main(int argc, char** argv) {
  if (rsd::cuda_device_count() == 0) {
    std::printf("SKIPPED: the GPU suite (op parity, optimizers, losses, RNG, training on CUDA) needs a GPU: %s\n", rsd::cuda_unavailable_reason().c_str());
    std::set<std::string> ops;
    for (const rsd::test::OpCase& c : rsd::test::op_cases()) ops.insert(c.op);
    std::printf("not verified on CUDA here (%zu ops, %zu cases):", ops.size(), rsd::test::op_cases().size());
    for (const std::string& op : ops) std::printf(" %s", op.c_str());
    std::printf("\n");
    return 77;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
