// Data-parallel training on a GPU (issue 7): an NCCL communicator of one rank runs the whole
// distributed path (bucketed gradient all-reduce during the backward on the communication
// stream, gathered InfoNCE, the loss average) and must give the non-distributed CUDA
// step's loss, gradients, weights and BN statistics, up to f32 rounding: the gathered InfoNCE
// computes the column direction as a second row-direction call (another summation order). NCCL refuses two ranks on one GPU, so more
// ranks are proven on CPU processes (tests/mpi/) and on multi-GPU machines (tools/launch/).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "engine/comm/communicator.h"
#include "engine/device.h"
#include "engine/optim/lars.h"
#include "models/pretrain/train_step.h"
#include "tests/support/ssl_test_models.h"

using namespace rsd;

namespace {

struct Trained {
  std::unique_ptr<models::SslMethod> method;
  std::unique_ptr<Optimizer> optimizer;
  pretrain::StepResult result;
};

Trained train_on_gpu(test::SslKind kind, comm::Communicator* comm) {
  const Device gpu = Device::cuda(0);
  Trained t;
  t.method = test::make_tiny_method(kind, 7, gpu);
  if (comm != nullptr) t.method->set_communicator(comm);
  t.optimizer = std::make_unique<LARS>(t.method->params().parameters(), LarsOptions{});
  pretrain::StepOptions so;
  so.grad_accum = 2;
  so.comm = comm;
  so.sync_bn = false;  // SyncBN's CUDA kernels have their own test (test_cuda_sync_batchnorm.cpp)
  so.bucket_bytes = 4096;
  pretrain::TrainStep runner(*t.method, *t.optimizer, so);
  for (int step = 0; step < 2; ++step) {
    uint64_t seed = 300 + 40 * static_cast<uint64_t>(step);
    t.result = runner.run([&] { return test::random_ssl_views(kind, DType::f32, seed += 10, 6, 12, gpu); }, step,
                          0.01);
  }
  return t;
}

double relative_error(const Tensor& ref, const Tensor& got, double floor) { return test::scaled_max_error(ref, got, floor); }

}  // namespace

TEST_SUITE("cuda_distributed") {
  TEST_CASE("an NCCL job of one rank trains exactly like one process (each method, f32)") {
    if (!comm::backend_available("nccl")) {
      MESSAGE("skipped: this build has no NCCL");
      return;
    }
    comm::CommOptions options;
    options.backend = "nccl";
    options.timeout_seconds = 60;
    std::unique_ptr<comm::Communicator> nccl = comm::make_communicator(comm::LaunchInfo{}, Device::cuda(0), options);
    REQUIRE(nccl->backend() == "nccl");
    for (test::SslKind kind :
         {test::SslKind::byol, test::SslKind::dual, test::SslKind::simclr, test::SslKind::dual_learnable}) {
      const std::string method = test::ssl_kind_name(kind);
      CAPTURE(method);
      const Trained plain = train_on_gpu(kind, nullptr);
      const Trained dist = train_on_gpu(kind, nccl.get());
      CHECK(std::fabs(dist.result.loss - plain.result.loss) <= 1e-5 * std::fabs(plain.result.loss));
      auto p1 = plain.method->params().parameters(), p2 = dist.method->params().parameters();
      REQUIRE(p1.size() == p2.size());
      double worst = 0, grad_scale = 0;
      for (const Parameter* p : p1)
        for (double v : p->value.grad().to_host_doubles()) grad_scale = std::max(grad_scale, std::fabs(v));
      for (size_t i = 0; i < p1.size(); ++i) {
        CAPTURE(p1[i]->name);
        // Gradients that are zero in exact arithmetic (a bias before BN) are rounding noise: they
        // are measured against the largest gradient.
        const double eg = relative_error(p1[i]->value.grad(), p2[i]->value.grad(), 1e-4 * grad_scale);
        worst = std::max({worst, eg, relative_error(p1[i]->value, p2[i]->value, 1e-30)});
        CHECK(eg <= 1e-5);
        CHECK(relative_error(p1[i]->value, p2[i]->value, 1e-30) <= 1e-5);
      }
      for (const auto& [name, buffer] : dist.method->params().buffers()) {
        CAPTURE(name);
        CHECK(relative_error(plain.method->params().buffers().at(name), buffer, 1e-30) <= 1e-5);
      }
      MESSAGE(method, ": NCCL world 1 vs one process, worst relative difference ", worst);
    }
  }
}
