// GPU-only checks of the engine as a whole: Philox fills identical on both backends, and the toy
// training step on CUDA (same start as the CPU, reaches the stated loss, allocates nothing in
// steady state). Part of rsd_cuda_tests, which exits 77 (skipped) without a GPU.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>

#include "engine/rng.h"
#include "models/demo/toy_training.h"

using namespace rsd;

TEST_CASE("Philox fills are the same on the CPU and the GPU") {
  for (int64_t n : {1, 7, 1000003}) {
    CAPTURE(n);
    Tensor cpu_u = Tensor::empty({n}, DType::f32), gpu_u = Tensor::empty({n}, DType::f32, Device::cuda(0));
    fill_uniform_(cpu_u, 99, 5, -1.0, 3.0);
    fill_uniform_(gpu_u, 99, 5, -1.0, 3.0);
    CHECK(cpu_u.to_host_doubles() == gpu_u.to_host_doubles());  // bit-identical
    Tensor cpu_n = Tensor::empty({n}, DType::f32), gpu_n = Tensor::empty({n}, DType::f32, Device::cuda(0));
    fill_normal_(cpu_n, 99, 5, 0.5, 2.0);
    fill_normal_(gpu_n, 99, 5, 0.5, 2.0);
    const std::vector<double> a = cpu_n.to_host_doubles(), b = gpu_n.to_host_doubles();
    double worst = 0.0;  // device and host libm may differ in the last ulp of the double Box-Muller
    for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]) / std::max(1.0, std::fabs(a[i])));
    CHECK(worst <= 1e-6);
  }
}

TEST_CASE("the toy training step on CUDA starts like the CPU and reaches the stated loss") {
  demo::ToyTrainingConfig config;
  config.steps = 150;
  config.device = Device::cuda(0);
  const demo::ToyTrainingResult gpu = demo::train_toy_classifier(config);
  config.device = Device::cpu();
  config.steps = 1;
  const demo::ToyTrainingResult cpu = demo::train_toy_classifier(config);
  std::printf("toy training on CUDA: first loss %.5f (CPU %.5f), final %.4f, accuracy %.3f\n", gpu.losses.front(),
              cpu.losses.front(), gpu.final_loss, gpu.eval_accuracy);
  CHECK(std::fabs(gpu.losses.front() - cpu.losses.front()) <= 1e-4 * std::fabs(cpu.losses.front()));
  CHECK(gpu.final_loss < 0.25);
  CHECK(gpu.eval_accuracy > 0.9);
  CHECK(gpu.steady_state_raw_allocs == 0);
}
