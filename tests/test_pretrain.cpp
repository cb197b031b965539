// Pretraining: one full training step of each method in f32 equal to the same step computed in
// f64 (loss, every gradient, the updated weights); BYOL's EMA and tau schedule; gradient
// accumulation and clipping; the NaN/Inf guard; and exact resume of `rsd pretrain` on the shipped
// samples (needs GDAL).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>

#include "engine/copy.h"
#include "engine/device.h"
#include "engine/ops/convert.h"
#include "engine/optim/ema.h"
#include "engine/optim/grad_norm.h"
#include "engine/optim/lars.h"
#include "engine/optim/schedule.h"
#include "kernels/optim.cuh"
#include "models/byol.h"
#include "models/dual_contrastive.h"
#include "models/pretrain/config.h"
#include "models/pretrain/train_step.h"
#include "models/pretrain/trainer.h"
#include "models/simclr.h"
#include "tests/support/harness.h"
#include "tests/support/runner.h"
#include "tests/support/ssl_test_models.h"

using namespace rsd;
namespace fs = std::filesystem;

namespace {

using Kind = test::SslKind;

std::unique_ptr<models::SslMethod> make(Kind kind, uint64_t seed) { return test::make_tiny_method(kind, seed); }

std::vector<Tensor> views(Kind kind, DType dtype, uint64_t seed, int64_t n = 6, int64_t hw = 12) {
  return test::random_ssl_views(kind, dtype, seed, n, hw);
}

double max_abs(const Tensor& t) {
  double m = 0.0;
  for (double v : t.to_host_doubles()) m = std::max(m, std::fabs(v));
  return m;
}

// max |got - ref| relative to the largest |ref| of the tensor, or to `floor` when that is larger:
// a tensor that is zero in exact arithmetic (the bias of a linear layer followed by batch norm has
// a zero gradient) holds only rounding noise, which is measured against the model's gradient scale.
double scaled_error(const Tensor& ref, const Tensor& got, double floor = 1e-30) {
  return test::scaled_max_error(ref, got, floor);
}

struct StepRun {
  std::unique_ptr<models::SslMethod> method;
  std::unique_ptr<Optimizer> optimizer;
  std::unique_ptr<pretrain::TrainStep> step;
  pretrain::StepResult result;
};

StepRun one_step(Kind kind, DType dtype, const pretrain::StepOptions& so = {}, double lr = 0.5) {
  StepRun run;
  run.method = make(kind, 7);
  LarsOptions lo;
  lo.weight_decay = 1e-4;
  run.optimizer = std::make_unique<LARS>(run.method->params().parameters(), lo);
  run.step = std::make_unique<pretrain::TrainStep>(*run.method, *run.optimizer, so);
  uint64_t seed = 100;
  run.result = run.step->run([&] { return views(kind, dtype, seed += 10); }, 0, lr);
  return run;
}

const char* kind_name(Kind k) { return test::ssl_kind_name(k); }

}  // namespace

TEST_SUITE("pretrain") {
  TEST_CASE("one training step of each method: f32 equals the f64 run (loss, gradients, updated weights)") {
    for (Kind kind : {Kind::byol, Kind::dual, Kind::simclr, Kind::dual_learnable}) {
      const std::string method_name = kind_name(kind);
      CAPTURE(method_name);
      StepRun f32 = one_step(kind, DType::f32);
      StepRun f64 = one_step(kind, DType::f64);
      REQUIRE_FALSE(f32.result.skipped);
      CHECK(f32.result.loss == doctest::Approx(f64.result.loss).epsilon(1e-5));
      CHECK(f32.result.grad_norm == doctest::Approx(f64.result.grad_norm).epsilon(1e-4));
      CHECK(f32.result.grad_norm > 0.0);
      auto p32 = f32.method->params().parameters();
      auto p64 = f64.method->params().parameters();
      REQUIRE(p32.size() == p64.size());
      double grad_scale = 0.0;
      for (const Parameter* p : p64) grad_scale = std::max(grad_scale, max_abs(p->value.grad()));
      double worst_grad = 0.0, worst_weight = 0.0;
      for (size_t i = 0; i < p32.size(); ++i) {
        CAPTURE(p32[i]->name);
        // A gradient that is zero in exact arithmetic (a linear layer's bias before BN: ~1e-16 of
        // the largest) holds f32 rounding noise of the model's gradient scale: measured against it.
        const double own_scale = max_abs(p64[i]->value.grad());
        const double floor = own_scale < 1e-4 * grad_scale ? grad_scale : 1e-30;
        const double eg = scaled_error(p64[i]->value.grad(), p32[i]->value.grad(), floor);
        const double ew = scaled_error(p64[i]->value, p32[i]->value);
        worst_grad = std::max(worst_grad, eg);
        worst_weight = std::max(worst_weight, ew);
        CHECK(eg <= 1e-4);
        CHECK(ew <= 1e-4);
      }
      MESSAGE(method_name, ": f32 vs f64, worst relative error: gradients ", worst_grad, ", weights ", worst_weight);
      for (const auto& [name, buffer] : f32.method->params().buffers()) {
        CAPTURE(name);
        CHECK(scaled_error(f64.method->params().buffers().at(name), buffer) <= 1e-5);
      }
    }
  }

  TEST_CASE("BYOL: the target follows the online network by EMA with the cosine tau schedule") {
    CosineMomentum schedule(0.9, 10);
    CHECK(schedule.tau(0) == doctest::Approx(0.9));
    CHECK(schedule.tau(5) == doctest::Approx(0.95));
    CHECK(schedule.tau(10) == doctest::Approx(1.0));
    auto method = make(Kind::byol, 3);
    auto& byol = dynamic_cast<models::Byol&>(*method);
    // At construction the target is a copy of the online network.
    for (const Parameter* t : byol.target_params().parameters()) {
      const Parameter* o = byol.params().find("online." + t->name.substr(7));
      REQUIRE(o != nullptr);
      CHECK(o->value.to_host_doubles() == t->value.to_host_doubles());
    }
    std::map<std::string, std::vector<double>> before;
    for (const Parameter* t : byol.target_params().parameters()) before[t->name] = t->value.to_host_doubles();
    LARS opt(byol.params().parameters(), LarsOptions{});
    pretrain::TrainStep step(byol, opt, {});
    uint64_t seed = 1;
    step.run([&] { return views(Kind::byol, DType::f32, seed += 2); }, 0, 0.5);
    const float keep = static_cast<float>(schedule.tau(0)), take = 1.0f - keep;
    int moved = 0;
    for (const Parameter* t : byol.target_params().parameters()) {
      CAPTURE(t->name);
      const std::vector<double> online = byol.params().find("online." + t->name.substr(7))->value.to_host_doubles();
      const std::vector<double> got = t->value.to_host_doubles();
      const std::vector<double>& old = before[t->name];
      for (size_t i = 0; i < got.size(); ++i) {
        const float expected = keep * static_cast<float>(old[i]) + take * static_cast<float>(online[i]);
        REQUIRE(static_cast<float>(got[i]) == expected);
      }
      if (got != old) ++moved;
    }
    CHECK(moved > 0);
  }

  TEST_CASE("gradient accumulation averages the micro-batch gradients; clipping bounds the norm") {
    // lr = 0: the optimizer leaves the weights, so each run sees the same network.
    auto grads_of = [](Kind kind, int accum, uint64_t first_seed) {
      auto method = make(kind, 7);
      LARS opt(method->params().parameters(), LarsOptions{});
      pretrain::StepOptions so;
      so.grad_accum = accum;
      pretrain::TrainStep step(*method, opt, so);
      uint64_t seed = first_seed;
      step.run([&] { return views(kind, DType::f32, seed += 10); }, 0, 0.0);
      std::vector<std::vector<double>> g;
      for (const Parameter* p : method->params().parameters()) g.push_back(p->value.grad().to_host_doubles());
      return g;
    };
    const auto both = grads_of(Kind::dual, 2, 100);  // micro-batches with seeds 110, 120
    const auto first = grads_of(Kind::dual, 1, 100);
    const auto second = grads_of(Kind::dual, 1, 110);
    for (size_t i = 0; i < both.size(); ++i) {
      std::vector<double> mean(both[i].size());
      for (size_t k = 0; k < mean.size(); ++k) mean[k] = 0.5 * (first[i][k] + second[i][k]);
      double scale = 1e-30;
      for (double v : mean) scale = std::max(scale, std::fabs(v));
      CHECK(test::max_relative_error(mean, both[i], scale) <= 1e-5);
    }
    pretrain::StepOptions clip;
    clip.grad_clip = 1e-3;
    StepRun clipped = one_step(Kind::simclr, DType::f32, clip, 0.0);
    CHECK(clipped.result.clipped);
    CHECK(clipped.result.grad_norm > 1e-3);
    GradientNorm after(clipped.method->params().parameters());
    CHECK(after.compute() == doctest::Approx(1e-3).epsilon(1e-3));
  }

  TEST_CASE("enqueue / collect: a step's numbers read one step late are those run() gives") {
    auto a = make(Kind::simclr, 7);
    auto b = make(Kind::simclr, 7);
    LARS opt_a(a->params().parameters(), LarsOptions{}), opt_b(b->params().parameters(), LarsOptions{});
    pretrain::TrainStep run_a(*a, opt_a, {}), late_b(*b, opt_b, {});
    std::vector<pretrain::StepResult> direct, late;
    auto poisoned = [] {
      std::vector<Tensor> v = views(Kind::simclr, DType::f32, 5);
      v[0].data<float>()[3] = std::nanf("");
      return v;
    };
    for (int64_t s = 0; s < 3; ++s) {
      const auto next = [s, &poisoned] { return s == 1 ? poisoned() : views(Kind::simclr, DType::f32, 20 + s); };
      direct.push_back(run_a.run(next, s, 0.5));
      late_b.enqueue(next, s, 0.5);
      CHECK(late_b.pending() == (s == 0 ? 1 : 2));
      if (s == 0) CHECK_FALSE(late_b.collect(true).has_value());  // the newest stays queued
      if (s > 0) late.push_back(*late_b.collect(true));
    }
    CHECK_FALSE(late_b.collect(true).has_value());
    late.push_back(*late_b.collect(false));
    CHECK(late_b.pending() == 0);
    REQUIRE(late.size() == 3);
    for (size_t k = 0; k < 3; ++k) {
      CAPTURE(k);
      CHECK(late[k].step == static_cast<int64_t>(k));
      const auto same = [](double x, double y) { return x == y || (std::isnan(x) && std::isnan(y)); };
      CHECK(same(late[k].loss, direct[k].loss));
      CHECK(same(late[k].grad_norm, direct[k].grad_norm));
      CHECK(late[k].skipped == direct[k].skipped);
    }
    CHECK(late[1].skipped);
    CHECK(late_b.skipped_total() == 1);
    CHECK(a->params().parameters().front()->value.to_host_doubles() ==
          b->params().parameters().front()->value.to_host_doubles());
  }

  TEST_CASE("the NaN/Inf guard skips bad steps and stops after max_bad_steps in a row") {
    auto method = make(Kind::simclr, 7);
    LARS opt(method->params().parameters(), LarsOptions{});
    pretrain::StepOptions so;
    so.max_bad_steps = 3;
    pretrain::TrainStep step(*method, opt, so);
    const std::vector<double> before = method->params().parameters().front()->value.to_host_doubles();
    auto poisoned = [] {
      std::vector<Tensor> v = views(Kind::simclr, DType::f32, 5);
      v[0].data<float>()[3] = std::nanf("");
      return v;
    };
    pretrain::StepResult r = step.run(poisoned, 0, 0.5);
    CHECK(r.skipped);
    CHECK(step.bad_in_a_row() == 1);
    CHECK(method->params().parameters().front()->value.to_host_doubles() == before);  // no update
    r = step.run([] { return views(Kind::simclr, DType::f32, 9); }, 1, 0.5);
    CHECK_FALSE(r.skipped);
    CHECK(step.bad_in_a_row() == 0);
    CHECK(step.skipped_total() == 1);
    step.run(poisoned, 2, 0.5);
    step.run(poisoned, 3, 0.5);
    try {
      step.run(poisoned, 4, 0.5);
      FAIL("expected the guard to stop training");
    } catch (const Error& e) {
      const std::string msg = e.what();
      CHECK(msg.find("3 steps in a row") != std::string::npos);
      CHECK(msg.find("train.lr") != std::string::npos);
    }
  }
}

// Pretraining on a GPU against the CPU: the multi-tensor kernels of the training loop (BYOL's EMA,
// the global gradient norm and its scaling), the strided view split (copy_columns), and one full
// training step of each method in f32 (cuDNN runs FMA math without TF32, so f32 agrees with the
// CPU to rounding) and in bf16 (the mixed-precision path `rsd pretrain` takes on a GPU: checked
// against the CPU f32 step with a bf16-sized bound).
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

TEST_SUITE("pretrain" * rsd::test::on_gpu()) {
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

  TEST_CASE("the guard on the device: a NaN step changes no weight (BYOL's EMA included); clipping as on the CPU") {
    for (const std::string kind : {"byol", "simclr"}) {
      CAPTURE(kind);
      auto m = make(kind, Device::cuda(0));
      LARS opt(m->params().parameters(), LarsOptions{});
      pretrain::TrainStep step(*m, opt, {});
      const std::vector<double> before = m->params().parameters().front()->value.to_host_doubles();
      std::vector<double> target_before;
      if (kind == "byol")
        target_before = static_cast<models::Byol&>(*m).target_params().parameters().front()->value.to_host_doubles();
      const pretrain::StepResult r = step.run(
          [&] {
            std::vector<Tensor> v = views(kind, Device::cpu(), DType::f32, 5);
            v[0].data<float>()[3] = std::nanf("");
            for (Tensor& t : v) t = to_device(t, Device::cuda(0));
            return v;
          },
          0, 0.5);
      CHECK(r.skipped);
      CHECK(opt.step_count() == 0);
      CHECK(m->params().parameters().front()->value.to_host_doubles() == before);
      if (kind == "byol")
        CHECK(static_cast<models::Byol&>(*m).target_params().parameters().front()->value.to_host_doubles() ==
              target_before);
    }
    // Clipping: the same clipped step on both devices.
    pretrain::StepOptions clip;
    clip.grad_clip = 1e-3;
    std::vector<std::vector<double>> weights;
    for (Device d : {Device::cpu(), Device::cuda(0)}) {
      auto m = make("simclr", d);
      LARS opt(m->params().parameters(), LarsOptions{});
      pretrain::TrainStep step(*m, opt, clip);
      const pretrain::StepResult r = step.run([&] { return views("simclr", d, DType::f32, 77); }, 0, 0.5);
      CHECK(r.clipped);
      weights.push_back(m->params().parameters().front()->value.to_host_doubles());
    }
    CHECK(scaled_error(weights[0], weights[1]) <= 1e-4);
  }
}
