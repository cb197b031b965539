// The small CNN learns the synthetic bars task: the stated target is a mean loss over the last 10
// steps below 0.25 (chance is ln 4 = 1.39) and held-out accuracy above 90% after 150 steps, with no
// raw allocation after the second step; on the CPU, and on CUDA from the same start.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>

#include "models/demo/toy_training.h"
#include "tests/support/runner.h"

using namespace rsd;

TEST_SUITE("training") {
  TEST_CASE("a small CNN trained on CPU reaches the stated loss") {
    rsd::demo::ToyTrainingConfig config;
    config.steps = 150;
    const rsd::demo::ToyTrainingResult r = rsd::demo::train_toy_classifier(config);
    std::printf("toy training: first loss %.4f, final loss %.4f, held-out accuracy %.3f, %lld parameters\n",
                r.losses.front(), r.final_loss, r.eval_accuracy, static_cast<long long>(r.parameters));
    CHECK(r.losses.front() > 1.0);
    CHECK(r.final_loss < 0.25);
    CHECK(r.eval_accuracy > 0.9);
    CHECK(r.steady_state_raw_allocs == 0);
    for (double l : r.losses) CHECK(std::isfinite(l));
  }

  TEST_CASE("training is reproducible for a seed") {
    rsd::demo::ToyTrainingConfig config;
    config.steps = 5;
    config.seed = 3;
    const auto a = rsd::demo::train_toy_classifier(config);
    const auto b = rsd::demo::train_toy_classifier(config);
    CHECK(a.losses == b.losses);
  }
}

// The toy training step on CUDA: same start as the CPU, reaches the stated loss, allocates nothing
// in steady state.
TEST_SUITE("training" * rsd::test::on_gpu()) {
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

  TEST_CASE("CUDA training gives the same bits twice (deterministic cuDNN algorithms, the default)") {
    demo::ToyTrainingConfig config;
    config.steps = 8;
    config.seed = 5;
    config.device = Device::cuda(0);
    const demo::ToyTrainingResult a = demo::train_toy_classifier(config);
    const demo::ToyTrainingResult b = demo::train_toy_classifier(config);
    CHECK(a.losses == b.losses);
  }
}
