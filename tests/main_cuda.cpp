// The GPU suite's entry point: without a usable GPU it says why and exits 77, which ctest reports
// as skipped (SKIP_RETURN_CODE) rather than passed.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "engine/device.h"

int main(int argc, char** argv) {
  if (rsd::cuda_device_count() == 0) {
    std::printf("SKIPPED: CUDA parity tests need a GPU: %s\n", rsd::cuda_unavailable_reason().c_str());
    return 77;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
