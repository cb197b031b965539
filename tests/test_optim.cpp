// Optimizers, schedules and the parameter registry on the CPU backend: every update checked
// against arithmetic written out by hand for two steps on tiny tensors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/allocator.h"
#include "engine/autograd.h"
#include "engine/device.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "engine/optim/adamw.h"
#include "engine/optim/lars.h"
#include "engine/optim/schedule.h"
#include "engine/optim/sgd.h"
#include "engine/params.h"
#include "kernels/optim.cuh"
#include "tests/support/harness.h"
#include "tests/support/runner.h"

using namespace rsd;
using namespace rsd::test;
namespace {

Tensor f32(const std::vector<double>& v) {
  return Tensor::from_vector(v, {static_cast<int64_t>(v.size())}, DType::f32);
}

// Writes `g` into the parameter's gradient buffer, in place.
void set_grad(ParameterRegistry& reg, const std::string& name, const std::vector<double>& g) {
  reg.find(name)->value.grad().copy_from(f32(g));
}

void check_values(const Tensor& t, const std::vector<double>& expected, const char* what) {
  const std::vector<double> got = t.to_host_doubles();
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO(what << " element " << i);
    CHECK(got[i] == doctest::Approx(expected[i]).epsilon(1e-6));
  }
}

const Tensor& state_of(const Optimizer& opt, const std::string& name) {
  for (const auto& [n, t] : opt.state())
    if (n == name) return t;
  FAIL("no optimizer state named " << name);
  static Tensor none;
  return none;
}

// w (decayed) = [1, -2], b (excluded) = [0.5]; both steps use g_w = [0.5, 0.25], g_b = [-1].
void make_sgd_params(ParameterRegistry& reg) {
  reg.add("w", f32({1.0, -2.0}), false);
  reg.add("b", f32({0.5}), true);
  set_grad(reg, "w", {0.5, 0.25});
  set_grad(reg, "b", {-1.0});
}

}  // namespace

TEST_SUITE("optim") {

TEST_CASE("registry: order, lookup, numel, exclusion flags and buffers") {
  ParameterRegistry reg;
  reg.add("conv.weight", Tensor::zeros({2, 3, 3, 1}, DType::f32), false);
  reg.add("bn.weight", Tensor::full({2}, 1.0, DType::f32), true);
  reg.add("fc.bias", Tensor::zeros({4}, DType::f32), true);
  reg.add_buffer("bn.running_mean", Tensor::zeros({2}, DType::f32));
  const std::vector<Parameter*> ps = reg.parameters();
  REQUIRE(ps.size() == 3);
  CHECK(ps[0]->name == "conv.weight");
  CHECK(ps[1]->name == "bn.weight");
  CHECK(ps[2]->name == "fc.bias");
  CHECK(reg.numel() == 18 + 2 + 4);
  CHECK_FALSE(reg.find("conv.weight")->exclude_from_decay);
  CHECK(reg.find("bn.weight")->exclude_from_decay);
  CHECK(reg.find("missing") == nullptr);
  for (Parameter* p : ps) {
    CHECK(p->value.requires_grad());
    REQUIRE(p->value.grad().defined());
    for (double g : p->value.grad().to_host_doubles()) CHECK(g == 0.0);
  }
  REQUIRE(reg.buffers().size() == 1);
  REQUIRE(reg.find_buffer("bn.running_mean") != nullptr);
  CHECK(reg.find_buffer("bn.running_mean")->shape() == Shape{2});
  CHECK_FALSE(reg.find_buffer("bn.running_mean")->requires_grad());
  CHECK(reg.find_buffer("bn.weight") == nullptr);
}

TEST_CASE("registry: the gradient buffer keeps its address through backward and zero_grad") {
  ParameterRegistry reg;
  Tensor& w = reg.add("w", f32({1.0, 2.0, 3.0}), false);
  const void* address = w.grad().raw();
  backward(sum(w));  // d sum / dw = 1, accumulated into the registry's buffer in place
  CHECK(w.grad().raw() == address);
  check_values(w.grad(), {1.0, 1.0, 1.0}, "grad after backward");
  reg.zero_grad();
  CHECK(w.grad().raw() == address);
  check_values(w.grad(), {0.0, 0.0, 0.0}, "grad after zero_grad");
}

TEST_CASE("registry: gradients come from the pool even inside a step arena") {
  Tensor value = f32({1.0, 2.0});
  ParameterRegistry reg;
  Arena& arena = arena_for(Device::cpu());
  {
    ArenaScope scope(arena);
    reg.add("w", value, false);
  }
  arena.reset();
  CHECK_NOTHROW(reg.find("w")->value.grad().raw());  // an arena tensor would throw after reset
}

TEST_CASE("SGD with momentum and weight decay, two steps by hand") {
  ParameterRegistry reg;
  make_sgd_params(reg);
  SGD opt(reg.parameters(), SgdOptions{0.9, 0.1, false});
  opt.step(0.1);
  // w[0]: g' = 0.5 + 0.1*1 = 0.6;      v = 0.6;                      p = 1 - 0.1*0.6 = 0.94
  // w[1]: g' = 0.25 + 0.1*(-2) = 0.05; v = 0.05;                     p = -2 - 0.005 = -2.005
  // b:    g' = -1 (no decay);          v = -1;                       p = 0.5 + 0.1 = 0.6
  check_values(reg.find("w")->value, {0.94, -2.005}, "w after step 1");
  check_values(reg.find("b")->value, {0.6}, "b after step 1");
  opt.step(0.1);
  // w[0]: g' = 0.5 + 0.1*0.94 = 0.594;      v = 0.9*0.6 + 0.594 = 1.134;     p = 0.94 - 0.1134 = 0.8266
  // w[1]: g' = 0.25 + 0.1*(-2.005) = 0.0495; v = 0.9*0.05 + 0.0495 = 0.0945; p = -2.005 - 0.00945 = -2.01445
  // b:    g' = -1;                           v = 0.9*(-1) - 1 = -1.9;        p = 0.6 + 0.19 = 0.79
  check_values(reg.find("w")->value, {0.8266, -2.01445}, "w after step 2");
  check_values(reg.find("b")->value, {0.79}, "b after step 2");
  check_values(state_of(opt, "w.momentum"), {1.134, 0.0945}, "w momentum");
  check_values(state_of(opt, "b.momentum"), {-1.9}, "b momentum");
  CHECK(opt.step_count() == 2);
}

TEST_CASE("SGD with Nesterov momentum, two steps by hand") {
  ParameterRegistry reg;
  make_sgd_params(reg);
  SGD opt(reg.parameters(), SgdOptions{0.9, 0.1, true});
  opt.step(0.1);
  // w[0]: g' = 0.6;  v = 0.6;  u = 0.6 + 0.9*0.6 = 1.14;    p = 1 - 0.114 = 0.886
  // w[1]: g' = 0.05; v = 0.05; u = 0.05 + 0.9*0.05 = 0.095; p = -2 - 0.0095 = -2.0095
  // b:    g' = -1;   v = -1;   u = -1 - 0.9 = -1.9;        p = 0.5 + 0.19 = 0.69
  check_values(reg.find("w")->value, {0.886, -2.0095}, "w after step 1");
  check_values(reg.find("b")->value, {0.69}, "b after step 1");
  opt.step(0.1);
  // w[0]: g' = 0.5 + 0.0886 = 0.5886;     v = 0.54 + 0.5886 = 1.1286;
  //       u = 0.5886 + 0.9*1.1286 = 1.60434;                     p = 0.886 - 0.160434 = 0.725566
  // w[1]: g' = 0.25 + 0.1*(-2.0095) = 0.04905; v = 0.045 + 0.04905 = 0.09405;
  //       u = 0.04905 + 0.9*0.09405 = 0.133695;                  p = -2.0095 - 0.0133695 = -2.0228695
  // b:    g' = -1; v = -1.9; u = -1 + 0.9*(-1.9) = -2.71;        p = 0.69 + 0.271 = 0.961
  check_values(reg.find("w")->value, {0.725566, -2.0228695}, "w after step 2");
  check_values(reg.find("b")->value, {0.961}, "b after step 2");
  check_values(state_of(opt, "w.momentum"), {1.1286, 0.09405}, "w momentum");
}

TEST_CASE("SGD without momentum keeps no state") {
  ParameterRegistry reg;
  make_sgd_params(reg);
  SGD opt(reg.parameters(), SgdOptions{0.0, 0.1, false});
  CHECK(opt.state().empty());
  opt.step(0.1);
  opt.step(0.1);
  // w[0]: 1 - 0.1*(0.5 + 0.1*1) = 0.94, then 0.94 - 0.1*(0.5 + 0.094) = 0.8806
  // w[1]: -2 - 0.1*(0.25 - 0.2) = -2.005, then -2.005 - 0.1*(0.25 - 0.2005) = -2.00995
  // b:    0.5 + 0.1 = 0.6, then 0.7
  check_values(reg.find("w")->value, {0.8806, -2.00995}, "w");
  check_values(reg.find("b")->value, {0.7}, "b");
}

TEST_CASE("LARS trust ratio, momentum, exclusion and the zero-norm cases, two steps by hand") {
  ParameterRegistry reg;
  reg.add("w", f32({3.0, 4.0}), false);   // |p| = 5
  reg.add("b", f32({0.5}), true);         // excluded: no decay, trust 1
  reg.add("z", f32({0.0, 0.0}), false);   // |p| = 0 at step 1: trust 1
  reg.add("y", f32({1.0, 2.0}), false);   // g = -wd*p, so d = 0: trust 1, no update
  set_grad(reg, "w", {0.3, 0.4});
  set_grad(reg, "b", {-1.0});
  set_grad(reg, "z", {1.0, -2.0});
  set_grad(reg, "y", {-0.1, -0.2});
  LARS opt(reg.parameters(), LarsOptions{0.9, 0.5, 0.1});
  opt.step(0.1);
  // w: d = [0.3 + 0.3, 0.4 + 0.4] = [0.6, 0.8], |d| = 1; trust = 0.5*5/1 = 2.5;
  //    v = [1.5, 2.0]; p = [3 - 0.15, 4 - 0.2] = [2.85, 3.8]
  // b: d = -1, trust 1; v = -1; p = 0.5 + 0.1 = 0.6
  // z: d = [1, -2], |p| = 0 so trust 1; v = [1, -2]; p = [-0.1, 0.2]
  // y: d = [0, 0], |d| = 0 so trust 1; v = [0, 0]; p unchanged
  check_values(reg.find("w")->value, {2.85, 3.8}, "w after step 1");
  check_values(reg.find("b")->value, {0.6}, "b after step 1");
  check_values(reg.find("z")->value, {-0.1, 0.2}, "z after step 1");
  check_values(reg.find("y")->value, {1.0, 2.0}, "y after step 1");
  opt.step(0.1);
  // w: p = 0.95*[3, 4], |p| = 4.75; d = [0.3 + 0.285, 0.4 + 0.38] = 0.975*[0.6, 0.8], |d| = 0.975;
  //    trust = 0.5*4.75/0.975; trust*d = 2.375*[0.6, 0.8] = [1.425, 1.9];
  //    v = 0.9*[1.5, 2] + [1.425, 1.9] = [2.775, 3.7]; p = [2.85 - 0.2775, 3.8 - 0.37] = [2.5725, 3.43]
  // b: v = -0.9 - 1 = -1.9; p = 0.6 + 0.19 = 0.79
  // z: |p| = sqrt(0.05); d = [1 - 0.01, -2 + 0.02] = 0.99*[1, -2], |d| = 0.99*sqrt(5);
  //    trust = 0.5*sqrt(0.05)/(0.99*sqrt(5)) = 0.05/0.99; trust*d = [0.05, -0.1];
  //    v = 0.9*[1, -2] + [0.05, -0.1] = [0.95, -1.9]; p = [-0.1 - 0.095, 0.2 + 0.19] = [-0.195, 0.39]
  check_values(reg.find("w")->value, {2.5725, 3.43}, "w after step 2");
  check_values(reg.find("b")->value, {0.79}, "b after step 2");
  check_values(reg.find("z")->value, {-0.195, 0.39}, "z after step 2");
  check_values(reg.find("y")->value, {1.0, 2.0}, "y after step 2");
  check_values(state_of(opt, "w.momentum"), {2.775, 3.7}, "w momentum");
  check_values(state_of(opt, "z.momentum"), {0.95, -1.9}, "z momentum");
}

TEST_CASE("LARS defaults are BYOL's") {
  const LarsOptions o;
  CHECK(o.momentum == 0.9);
  CHECK(o.eta == 0.001);
  CHECK(o.weight_decay == 1e-6);
}

TEST_CASE("AdamW decoupled decay and bias correction, two steps by hand") {
  ParameterRegistry reg;
  reg.add("w", f32({1.0}), false);
  reg.add("b", f32({2.0}), true);  // excluded: no decay
  AdamW opt(reg.parameters(), AdamWOptions{0.9, 0.999, 1e-8, 0.1});
  CHECK(opt.state().size() == 4);
  const double lr = 0.1, eps = 1e-8;
  set_grad(reg, "w", {0.5});
  set_grad(reg, "b", {0.5});
  opt.step(lr);
  // t = 1, g = 0.5: m = 0.1*0.5 = 0.05, v = 0.001*0.25 = 0.00025;
  // m_hat = 0.05/(1 - 0.9) = 0.5, v_hat = 0.00025/(1 - 0.999) = 0.25, step = 0.5/(0.5 + 1e-8)
  const double step1 = 0.5 / (0.5 + eps);
  // w: p = 1*(1 - 0.1*0.1) - 0.1*step1 = 0.99 - 0.1*step1 = 0.890000002;  b: p = 2 - 0.1*step1
  check_values(reg.find("w")->value, {0.99 - lr * step1}, "w after step 1");
  check_values(reg.find("b")->value, {2.0 - lr * step1}, "b after step 1");
  check_values(state_of(opt, "w.exp_avg"), {0.05}, "m after step 1");
  check_values(state_of(opt, "w.exp_avg_sq"), {0.00025}, "v after step 1");
  set_grad(reg, "w", {-0.25});
  set_grad(reg, "b", {-0.25});
  opt.step(lr);
  // t = 2, g = -0.25: m = 0.9*0.05 + 0.1*(-0.25) = 0.02; v = 0.999*0.00025 + 0.001*0.0625 = 0.00031225;
  // m_hat = 0.02/(1 - 0.81) = 0.02/0.19; v_hat = 0.00031225/(1 - 0.998001) = 0.00031225/0.001999
  const double step2 = (0.02 / 0.19) / (std::sqrt(0.00031225 / 0.001999) + eps);
  // w: p = (0.99 - 0.1*step1)*0.99 - 0.1*step2 = 0.8544662987;  b: p = 2 - 0.1*step1 - 0.1*step2 = 1.8733662987
  check_values(reg.find("w")->value, {(0.99 - lr * step1) * 0.99 - lr * step2}, "w after step 2");
  check_values(reg.find("w")->value, {0.8544662987}, "w after step 2 (decimal)");
  check_values(reg.find("b")->value, {2.0 - lr * step1 - lr * step2}, "b after step 2");
  check_values(reg.find("b")->value, {1.8733662987}, "b after step 2 (decimal)");
  check_values(state_of(opt, "w.exp_avg"), {0.02}, "m after step 2");
  check_values(state_of(opt, "w.exp_avg_sq"), {0.00031225}, "v after step 2");
  CHECK(opt.step_count() == 2);
}

TEST_CASE("a steady-state CPU step allocates nothing") {
  ParameterRegistry reg;
  make_sgd_params(reg);
  LARS lars(reg.parameters());
  AdamW adamw(reg.parameters());
  lars.step(0.1);
  adamw.step(0.1);
  const AllocatorStats before = pool_for(Device::cpu()).stats();
  for (int i = 0; i < 3; ++i) {
    lars.step(0.1);
    adamw.step(0.1);
  }
  const AllocatorStats after = pool_for(Device::cpu()).stats();
  CHECK(after.raw_allocs == before.raw_allocs);
  CHECK(after.bytes_in_use == before.bytes_in_use);
}

TEST_CASE("WarmupCosine: warm-up, cosine, end and past the end") {
  const WarmupCosine s{0.4, 4, 104, 0.04};
  CHECK(s.lr(0) == doctest::Approx(0.1));   // 0.4 * 1/4
  CHECK(s.lr(1) == doctest::Approx(0.2));   // 0.4 * 2/4
  CHECK(s.lr(3) == doctest::Approx(0.4));   // last warm-up step reaches base_lr
  CHECK(s.lr(4) == doctest::Approx(0.4));   // cosine at progress 0
  CHECK(s.lr(54) == doctest::Approx(0.22)); // progress 1/2: 0.04 + 0.5*0.36*(1 + 0)
  CHECK(s.lr(103) == doctest::Approx(0.04008881913416831));  // 0.04 + 0.18*(1 + cos(0.99 pi))
  CHECK(s.lr(104) == 0.04);
  CHECK(s.lr(100000) == 0.04);
  const WarmupCosine no_warmup{1.0, 0, 10};
  CHECK(no_warmup.lr(0) == doctest::Approx(1.0));
  CHECK(no_warmup.lr(5) == doctest::Approx(0.5));
  CHECK(no_warmup.lr(10) == 0.0);
}

TEST_CASE("CosineMomentum: BYOL's tau from tau_base to 1") {
  const CosineMomentum m{0.99, 100};
  CHECK(m.tau(0) == doctest::Approx(0.99));
  CHECK(m.tau(25) == doctest::Approx(0.9914644660940672));  // 1 - 0.01*(cos(pi/4) + 1)/2
  CHECK(m.tau(50) == doctest::Approx(0.995));
  CHECK(m.tau(100) == 1.0);
  CHECK(m.tau(500) == 1.0);
}

TEST_CASE("AdamW drives w to the minimum of sum((w - t)^2)") {
  const std::vector<double> target{0.5, -1.25, 3.0, 0.0, -0.75};
  ParameterRegistry reg;
  Tensor& w = reg.add("w", Tensor::zeros({5}, DType::f32), false);
  AdamW opt(reg.parameters(), AdamWOptions{0.9, 0.999, 1e-8, 0.0});
  const WarmupCosine schedule{0.1, 20, 600};
  for (int64_t s = 0; s < 600; ++s) {
    // d/dw sum((w - t)^2) = 2 (w - t), written straight into the gradient buffer.
    float* g = w.grad().data<float>();
    const float* p = w.data<float>();
    for (size_t i = 0; i < target.size(); ++i) g[i] = 2.0f * (p[i] - static_cast<float>(target[i]));
    opt.step(schedule.lr(s));
  }
  const std::vector<double> got = w.to_host_doubles();
  for (size_t i = 0; i < target.size(); ++i) CHECK(got[i] == doctest::Approx(target[i]).epsilon(1e-3));
}



TEST_CASE("registry: duplicate names, non-f32 parameters and recorded outputs are refused") {
  ParameterRegistry reg;
  reg.add("layer.weight", f32({1.0}), false);
  CHECK_THROWS_WITH_AS(reg.add("layer.weight", f32({2.0}), false), doctest::Contains("'layer.weight'"), Error);
  CHECK_THROWS_WITH_AS(reg.add_buffer("layer.weight", f32({2.0})), doctest::Contains("'layer.weight'"), Error);
  reg.add_buffer("bn.running_var", f32({1.0}));
  CHECK_THROWS_WITH_AS(reg.add_buffer("bn.running_var", f32({1.0})), doctest::Contains("'bn.running_var'"), Error);
  CHECK_THROWS_WITH_AS(reg.add("w64", Tensor::zeros({3}, DType::f64), false), doctest::Contains("'w64'"), Error);
  Tensor x = f32({1.0, 2.0});
  x.set_requires_grad(true);
  CHECK_THROWS_WITH_AS(reg.add("out", add(x, x), false), doctest::Contains("'out'"), Error);
  tape().clear();
}

TEST_CASE("optimizers name themselves and the parameter that is not f32") {
  Parameter ok{"ok", f32({1.0}), false};
  ok.value.set_requires_grad(true);
  ok.value.set_grad(f32({0.0}));
  Parameter bad{"half.weight", Tensor::zeros({3}, DType::f64), false};
  const std::vector<Parameter*> params{&ok, &bad};
  CHECK_THROWS_WITH_AS(SGD(params, SgdOptions{}), doctest::Contains("SGD: parameter 'half.weight'"), Error);
  CHECK_THROWS_WITH_AS(LARS(params, LarsOptions{}), doctest::Contains("LARS: parameter 'half.weight'"), Error);
  CHECK_THROWS_WITH_AS(AdamW(params, AdamWOptions{}), doctest::Contains("AdamW: parameter 'half.weight'"), Error);
}

TEST_CASE("optimizers refuse parameters without a gradient buffer, no parameters and bad settings") {
  Parameter bare{"bare", f32({1.0}), false};
  CHECK_THROWS_WITH_AS(SGD({&bare}), doctest::Contains("SGD: parameter 'bare'"), Error);
  ParameterRegistry twice;
  twice.add("twice", f32({1.0}), false);
  const std::vector<Parameter*> repeated{twice.find("twice"), twice.find("twice")};
  CHECK_THROWS_WITH_AS(LARS(repeated, LarsOptions{}), doctest::Contains("LARS: parameter 'twice' is listed twice"), Error);
  CHECK_THROWS_WITH_AS(AdamW(std::vector<Parameter*>{}), doctest::Contains("AdamW: no parameters"), Error);
  ParameterRegistry reg;
  reg.add("w", f32({1.0}), false);
  CHECK_THROWS_WITH_AS(SGD(reg.parameters(), SgdOptions{0.0, 0.0, true}), doctest::Contains("SGD: Nesterov"), Error);
  CHECK_THROWS_WITH_AS(LARS(reg.parameters(), LarsOptions{0.9, 0.0, 0.0}), doctest::Contains("LARS: trust"), Error);
  SGD opt(reg.parameters());
  CHECK_THROWS_WITH_AS(opt.step(-1.0), doctest::Contains("SGD: learning rate -1"), Error);
  CHECK_THROWS_WITH_AS(opt.step(NAN), doctest::Contains("SGD: learning rate"), Error);
}

TEST_CASE("an optimizer refuses a gradient buffer replaced after construction") {
  ParameterRegistry reg;
  Tensor& w = reg.add("moved", f32({1.0, 2.0}), false);
  AdamW opt(reg.parameters());
  w.set_grad(f32({0.0, 0.0}));
  CHECK_THROWS_WITH_AS(opt.step(0.1), doctest::Contains("AdamW: the gradient of 'moved'"), Error);
}

TEST_CASE("schedules refuse warm-up longer than the run and bad settings") {
  CHECK_THROWS_WITH_AS(WarmupCosine(0.1, 20, 10), doctest::Contains("WarmupCosine: warmup_steps 20"), Error);
  CHECK_THROWS_WITH_AS(WarmupCosine(0.1, 0, 0), doctest::Contains("WarmupCosine: total_steps 0"), Error);
  CHECK_THROWS_WITH_AS(WarmupCosine(0.1, 1, 10).lr(-1), doctest::Contains("WarmupCosine: step -1"), Error);
  CHECK_THROWS_WITH_AS(CosineMomentum(1.5, 10), doctest::Contains("CosineMomentum: tau_base 1.5"), Error);
  CHECK_THROWS_WITH_AS(CosineMomentum(0.99, 0), doctest::Contains("CosineMomentum: total_steps 0"), Error);
}

}

// The fused multi-tensor CUDA steps of SGD, LARS and AdamW against the CPU reference: several
// parameters of odd sizes (one spanning several kMultiTensorChunk chunks, an empty one, an
// all-zero one for LARS's zero-norm case, excluded ones), three steps with fresh random gradients
// and different learning rates; parameters and optimizer state must agree to 1e-6 of each
// tensor's largest magnitude. Also: a steady-state CUDA step allocates nothing, and parameters
// on two devices are refused. Without a GPU every case says it was skipped and why.
namespace {


struct ParamSpec {
  const char* name;
  Shape shape;
  bool excluded;
  bool zeros;  // all-zero values: |p| = 0, LARS falls back to trust 1
};

const std::vector<ParamSpec>& param_specs() {
  static const std::vector<ParamSpec> specs{
      {"conv.weight", {7, 3, 3, 5}, false, false},
      {"bn.weight", {33}, true, false},
      {"big.weight", {2 * kernels::kMultiTensorChunk + 4097}, false, false},  // three chunks
      {"empty.weight", {0}, false, false},
      {"one.weight", {1}, false, false},
      {"zero.weight", {5}, false, true},
      {"fc.bias", {3}, true, false},
  };
  return specs;
}

void build_params(ParameterRegistry& reg, Device d) {
  uint64_t seed = 500;
  for (const ParamSpec& s : param_specs()) {
    Tensor v = s.zeros ? Tensor::zeros(s.shape, DType::f32, d) : random_tensor(s.shape, DType::f32, d, seed);
    reg.add(s.name, v, s.excluded);
    ++seed;
  }
}

void set_random_grads(ParameterRegistry& reg, uint64_t seed) {
  for (Parameter* p : reg.parameters()) {
    Tensor g = p->value.grad();
    g.copy_from(random_tensor(p->value.shape(), DType::f32, Device::cpu(), seed++));
  }
}

// max |ref - got| over max |ref| (0 when both are all zero).
double scaled_error(const Tensor& ref, const Tensor& got) {
  const std::vector<double> r = ref.to_host_doubles(), g = got.to_host_doubles();
  if (r.size() != g.size()) return INFINITY;
  double diff = 0.0, scale = 0.0;
  for (size_t i = 0; i < r.size(); ++i) {
    if (!std::isfinite(g[i])) return INFINITY;
    diff = std::max(diff, std::fabs(r[i] - g[i]));
    scale = std::max(scale, std::fabs(r[i]));
  }
  return diff == 0.0 ? 0.0 : diff / std::max(scale, 1e-30);
}

using MakeOptimizer = std::function<std::unique_ptr<Optimizer>(ParameterRegistry&)>;

void compare_with_cpu(const MakeOptimizer& make) {
  ParameterRegistry cpu_reg, gpu_reg;
  build_params(cpu_reg, Device::cpu());
  build_params(gpu_reg, Device::cuda(0));
  std::unique_ptr<Optimizer> cpu_opt = make(cpu_reg), gpu_opt = make(gpu_reg);
  const double lrs[] = {0.05, 0.1, 0.02};
  uint64_t seed = 9000;
  for (double lr : lrs) {
    set_random_grads(cpu_reg, seed);
    set_random_grads(gpu_reg, seed);
    seed += 100;
    cpu_opt->step(lr);
    gpu_opt->step(lr);
  }
  const std::vector<Parameter*> cpu_params = cpu_reg.parameters(), gpu_params = gpu_reg.parameters();
  for (size_t i = 0; i < cpu_params.size(); ++i) {
    CAPTURE(cpu_params[i]->name);
    const double e = scaled_error(cpu_params[i]->value, gpu_params[i]->value);
    INFO(gpu_opt->name() << " parameter error " << e);
    CHECK(e <= 1e-6);
  }
  REQUIRE(cpu_opt->state().size() == gpu_opt->state().size());
  for (size_t i = 0; i < cpu_opt->state().size(); ++i) {
    CAPTURE(cpu_opt->state()[i].first);
    const double e = scaled_error(cpu_opt->state()[i].second, gpu_opt->state()[i].second);
    INFO(gpu_opt->name() << " state error " << e);
    CHECK(e <= 1e-6);
  }
}

// A step after the first allocates nothing on the GPU or the host.
void check_steady_state(const MakeOptimizer& make) {
  ParameterRegistry reg;
  build_params(reg, Device::cuda(0));
  set_random_grads(reg, 77);
  std::unique_ptr<Optimizer> opt = make(reg);
  opt->step(0.1);
  synchronize(Device::cuda(0));
  const AllocatorStats gpu_before = pool_for(Device::cuda(0)).stats(), cpu_before = pool_for(Device::cpu()).stats();
  for (int i = 0; i < 3; ++i) opt->step(0.1);
  synchronize(Device::cuda(0));
  const AllocatorStats gpu_after = pool_for(Device::cuda(0)).stats(), cpu_after = pool_for(Device::cpu()).stats();
  CAPTURE(opt->name());
  CHECK(gpu_after.raw_allocs == gpu_before.raw_allocs);
  CHECK(gpu_after.bytes_in_use == gpu_before.bytes_in_use);
  CHECK(cpu_after.raw_allocs == cpu_before.raw_allocs);
  CHECK(cpu_after.bytes_in_use == cpu_before.bytes_in_use);
}

const MakeOptimizer kSgd = [](ParameterRegistry& r) -> std::unique_ptr<Optimizer> {
  return std::make_unique<SGD>(r, SgdOptions{0.9, 1e-2, false});
};
const MakeOptimizer kSgdNesterov = [](ParameterRegistry& r) -> std::unique_ptr<Optimizer> {
  return std::make_unique<SGD>(r, SgdOptions{0.9, 1e-2, true});
};
const MakeOptimizer kSgdPlain = [](ParameterRegistry& r) -> std::unique_ptr<Optimizer> {
  return std::make_unique<SGD>(r, SgdOptions{0.0, 1e-2, false});
};
// A large eta and weight decay so the trust ratio and the decay term both move the result.
const MakeOptimizer kLars = [](ParameterRegistry& r) -> std::unique_ptr<Optimizer> {
  return std::make_unique<LARS>(r, LarsOptions{0.9, 0.02, 1e-2});
};
const MakeOptimizer kLarsNoMomentum = [](ParameterRegistry& r) -> std::unique_ptr<Optimizer> {
  return std::make_unique<LARS>(r, LarsOptions{0.0, 0.02, 1e-2});
};
const MakeOptimizer kAdamW = [](ParameterRegistry& r) -> std::unique_ptr<Optimizer> {
  return std::make_unique<AdamW>(r, AdamWOptions{0.9, 0.999, 1e-8, 0.05});
};

}  // namespace

TEST_SUITE("optim" * rsd::test::on_gpu()) {

TEST_CASE("SGD on CUDA matches the CPU step (momentum, Nesterov, none)") {
  compare_with_cpu(kSgd);
  compare_with_cpu(kSgdNesterov);
  compare_with_cpu(kSgdPlain);
}

TEST_CASE("LARS on CUDA matches the CPU step (with and without momentum)") {
  compare_with_cpu(kLars);
  compare_with_cpu(kLarsNoMomentum);
}

TEST_CASE("AdamW on CUDA matches the CPU step") {
  compare_with_cpu(kAdamW);
}

TEST_CASE("a steady-state CUDA optimizer step allocates nothing") {
  check_steady_state(kSgd);
  check_steady_state(kLars);
  check_steady_state(kAdamW);
}



TEST_CASE("parameters on two devices are refused by the registry and the optimizers") {
  ParameterRegistry cpu_reg, gpu_reg;
  cpu_reg.add("host.weight", Tensor::zeros({3}, DType::f32), false);
  gpu_reg.add("gpu.weight", Tensor::zeros({3}, DType::f32, Device::cuda(0)), false);
  CHECK_THROWS_WITH_AS(cpu_reg.add("gpu.bias", Tensor::zeros({3}, DType::f32, Device::cuda(0)), true),
                       doctest::Contains("'gpu.bias'"), Error);
  const std::vector<Parameter*> mixed{cpu_reg.find("host.weight"), gpu_reg.find("gpu.weight")};
  CHECK_THROWS_WITH_AS(SGD(mixed, SgdOptions{}), doctest::Contains("SGD: parameter 'gpu.weight'"), Error);
  CHECK_THROWS_WITH_AS(LARS(mixed, LarsOptions{}), doctest::Contains("LARS: parameter 'gpu.weight'"), Error);
  CHECK_THROWS_WITH_AS(AdamW(mixed, AdamWOptions{}), doctest::Contains("AdamW: parameter 'gpu.weight'"), Error);
}

}
