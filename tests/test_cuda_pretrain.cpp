// Pretraining on a GPU against the CPU: the multi-tensor kernels of the training loop (BYOL's EMA,
// the global gradient norm and its scaling), the strided view split (copy_columns), and one full
// training step of each method in f32 (cuDNN runs FMA math without TF32, so f32 agrees with the
// CPU to rounding) and in bf16 (the mixed-precision path `rsd pretrain` takes on a GPU: checked
// against the CPU f32 step with a bf16-sized bound). Part of rsd_cuda_tests (skipped without a GPU).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "engine/copy.h"
#include "engine/device.h"
#include "engine/optim/ema.h"
#include "engine/optim/grad_norm.h"
#include "engine/optim/lars.h"
#include "kernels/optim.cuh"
#include "models/byol.h"
#include "models/dual_contrastive.h"
#include "models/pretrain/train_step.h"
#include "models/simclr.h"
#include "tests/support/harness.h"

using namespace rsd;

namespace {


double scaled_error(const std::vector<double>& ref, const std::vector<double>& got, double floor = 1e-30) {
  double scale = floor;
  for (double v : ref) scale = std::max(scale, std::fabs(v));
  return test::max_relative_error(ref, got, scale);
}

const Shape kShapes[] = {{7, 3, 3, 5}, {2 * kernels::kMultiTensorChunk + 4097}, {1}, {33}};

std::unique_ptr<models::SslMethod> make(const std::string& kind, Device d) {
  Generator gen(11);
  models::ResNetConfig enc;
  enc.depth = 18;
  enc.width = 8;
  enc.stem = models::ResNetStem::small_patch;
  if (kind == "byol") {
    models::ByolOptions o;
    o.encoder = enc;
    o.encoder.in_channels = 3;
    o.projector_hidden = 32;
    o.projector_out = 16;
    o.predictor_hidden = 32;
    o.total_steps = 10;
    return std::make_unique<models::Byol>(o, d, gen);
  }
  models::ContrastiveOptions o;
  o.encoder = enc;
  o.projector_hidden = 32;
  o.projector_out = 16;
  o.learnable_temperature = true;
  if (kind == "simclr") return std::make_unique<models::SimClr>(o, 4, d, gen);
  return std::make_unique<models::DualContrastive>(o, 2, 5, d, gen);
}

std::vector<int64_t> channels(const std::string& kind) {
  if (kind == "byol") return {3, 3};
  if (kind == "simclr") return {4, 4};
  return {2, 5};
}

std::vector<Tensor> views(const std::string& kind, Device d, DType dtype, uint64_t seed) {
  std::vector<Tensor> out;
  for (int64_t c : channels(kind)) {
    Tensor v = test::random_tensor({8, 16, 16, c}, DType::f32, d, seed++);
    Tensor cv = Tensor::empty(v.shape(), dtype, d);
    cv.copy_from(v);
    out.push_back(cv);
  }
  return out;
}

}  // namespace

TEST_SUITE("cuda_pretrain") {
  TEST_CASE("EMA, gradient norm and scaling: CUDA equals the CPU") {
    std::vector<Tensor> t_cpu, s_cpu, t_gpu, s_gpu;
    uint64_t seed = 40;
    for (const Shape& s : kShapes) {
      t_cpu.push_back(test::random_tensor(s, DType::f32, Device::cpu(), seed++));
      s_cpu.push_back(test::random_tensor(s, DType::f32, Device::cpu(), seed++));
      t_gpu.push_back(Tensor::empty(s, DType::f32, Device::cuda(0)));
      s_gpu.push_back(Tensor::empty(s, DType::f32, Device::cuda(0)));
      t_gpu.back().copy_from(t_cpu.back());
      s_gpu.back().copy_from(s_cpu.back());
    }
    EmaUpdate ema_cpu(t_cpu, s_cpu), ema_gpu(t_gpu, s_gpu);
    for (double tau : {0.99, 0.5, 1.0}) {
      ema_cpu.update(tau);
      ema_gpu.update(tau);
    }
    for (size_t k = 0; k < t_cpu.size(); ++k) CHECK(t_gpu[k].to_host_doubles() == t_cpu[k].to_host_doubles());

    ParameterRegistry cpu_reg, gpu_reg;
    for (size_t k = 0; k < t_cpu.size(); ++k) {
      Tensor& pc = cpu_reg.add(str_cat("p", k), t_cpu[k], false);
      Tensor& pg = gpu_reg.add(str_cat("p", k), t_gpu[k], false);
      pc.grad().copy_from(s_cpu[k]);
      pg.grad().copy_from(s_cpu[k]);
    }
    GradientNorm n_cpu(cpu_reg.parameters()), n_gpu(gpu_reg.parameters());
    CHECK(n_gpu.compute() == doctest::Approx(n_cpu.compute()).epsilon(1e-6));
    n_cpu.scale(0.25);
    n_gpu.scale(0.25);
    for (Parameter* p : gpu_reg.parameters())
      CHECK(p->value.grad().to_host_doubles() == cpu_reg.find(p->name)->value.grad().to_host_doubles());
    gpu_reg.parameters().front()->value.grad().copy_from(Tensor::full({7, 3, 3, 5}, NAN, DType::f32));
    CHECK_FALSE(std::isfinite(n_gpu.compute()));
  }

  TEST_CASE("copy_columns on CUDA equals the CPU") {
    Tensor x = test::random_tensor({37, 19}, DType::f32, Device::cpu(), 3);
    Tensor xg = Tensor::empty(x.shape(), DType::f32, Device::cuda(0));
    xg.copy_from(x);
    for (auto [b, e] : {std::pair<int64_t, int64_t>{0, 4}, {4, 19}, {7, 8}}) {
      CHECK(copy_columns(xg, b, e).to_host_doubles() == copy_columns(x, b, e).to_host_doubles());
    }
  }

  TEST_CASE("one training step of each method: CUDA f32 and bf16 against the CPU") {
    for (const std::string kind : {"byol", "dual-contrastive", "simclr"}) {
      CAPTURE(kind);
      struct Run {
        std::unique_ptr<models::SslMethod> m;
        std::unique_ptr<LARS> opt;
        pretrain::StepResult r;
      };
      auto run = [&](Device d, DType dtype) {
        Run out;
        out.m = make(kind, d);
        out.opt = std::make_unique<LARS>(out.m->params().parameters(), LarsOptions{});
        pretrain::TrainStep step(*out.m, *out.opt, {});
        out.r = step.run([&] { return views(kind, d, dtype, 77); }, 0, 0.5);
        return out;
      };
      Run cpu = run(Device::cpu(), DType::f32);
      for (DType dtype : {DType::f32, DType::bf16}) {
        CAPTURE(dtype_name(dtype));
        Run gpu = run(Device::cuda(0), dtype);
        const double bound = dtype == DType::f32 ? 1e-4 : 5e-2;
        CHECK(gpu.r.loss == doctest::Approx(cpu.r.loss).epsilon(dtype == DType::f32 ? 1e-5 : 2e-2));
        double grad_scale = 0.0;
        for (const Parameter* p : cpu.m->params().parameters())
          for (double v : p->value.grad().to_host_doubles()) grad_scale = std::max(grad_scale, std::fabs(v));
        for (const Parameter* p : gpu.m->params().parameters()) {
          CAPTURE(p->name);
          const Parameter* q = cpu.m->params().find(p->name);
          CHECK(scaled_error(q->value.grad().to_host_doubles(), p->value.grad().to_host_doubles(), 1e-2 * grad_scale) <=
                bound);
          CHECK(scaled_error(q->value.to_host_doubles(), p->value.to_host_doubles()) <= bound);
        }
      }
    }
  }
}
