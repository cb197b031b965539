// ResNet encoders and MLP heads against torchvision (tests/python/torchvision_resnet.py run with
// /usr/bin/python3): the same parameter names, shapes and counts, the same function (pooled
// features and running statistics in eval and train mode, weights moved through .npy files), an
// f64 reference run from the same f32 parameters, zero_init_residual, errors, the parameter casts
// a ParameterCastScope shares between views; and NumPy reading what write_npy wrote.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/npy.h"
#include "engine/op.h"
#include "engine/allocator.h"
#include "engine/ops/convert.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/linear.h"
#include "engine/ops/reduce.h"
#include "engine/params.h"
#include "models/mlp_head.h"
#include "models/resnet.h"
#include "tests/support/checks.h"
#include "tests/support/harness.h"
#include "tests/support/shard_test_util.h"
#include "tests/support/subprocess.h"

using namespace rsd;
using models::LayerContext;
using models::ResNet;
using models::ResNetConfig;
using models::ResNetStem;
using rsd::test::error_of;
namespace fs = std::filesystem;

namespace {

// torchvision's ResNet beside ours (tests/python/torchvision_resnet.py).
void run_torchvision_client(const std::string& args) { test::run_python_client("torchvision_resnet.py", args); }

double max_abs(const std::vector<double>& v) {
  double m = 0.0;
  for (double x : v) m = std::max(m, std::fabs(x));
  return m;
}

// max |ref - got| / max |ref|: relative to the tensor's largest magnitude, as test_resnet_block.
double scaled_max_error(const std::vector<double>& ref, const std::vector<double>& got) {
  return test::max_relative_error(ref, got, std::max(max_abs(ref), 1e-30));
}

// Conv weights (K, R, S, C) -> torchvision's (K, C, R, S); other shapes unchanged.
Shape torch_shape(const Shape& s) { return s.size() == 4 ? Shape{s[0], s[3], s[1], s[2]} : s; }

Tensor to_torch_layout(const Tensor& t) {
  if (t.ndim() != 4) return t;
  const std::vector<double> v = t.to_host_doubles();
  const int64_t K = t.dim(0), R = t.dim(1), S = t.dim(2), C = t.dim(3);
  std::vector<double> out(v.size());
  for (int64_t k = 0; k < K; ++k)
    for (int64_t r = 0; r < R; ++r)
      for (int64_t s = 0; s < S; ++s)
        for (int64_t c = 0; c < C; ++c)
          out[static_cast<size_t>(((k * C + c) * R + r) * S + s)] = v[static_cast<size_t>(((k * R + r) * S + s) * C + c)];
  return Tensor::from_vector(out, torch_shape(t.shape()), t.dtype());
}

// torchvision's names and shapes of one model, from the client's "names" output.
struct TorchModel {
  int64_t count = 0;
  std::vector<std::string> params;  // state_dict order
  std::map<std::string, Shape> shapes;
  std::vector<std::string> buffers;
};

Shape parse_dims(const std::string& csv) {
  Shape s;
  std::stringstream ss(csv);
  for (std::string d; std::getline(ss, d, ',');) s.push_back(std::stoll(d));
  return s;
}

std::map<std::string, TorchModel> read_torch_models(const fs::path& file) {
  std::map<std::string, TorchModel> models;
  std::ifstream in(file);
  std::string word;
  TorchModel* current = nullptr;
  while (in >> word) {
    if (word == "model") {
      std::string depth, channels, count_word;
      in >> depth >> channels >> count_word;
      current = &models[depth + ":" + channels];
      in >> current->count;
    } else if (word == "param" || word == "buffer") {
      std::string name, dims;
      in >> name >> dims;
      REQUIRE(current != nullptr);
      (word == "param" ? current->params : current->buffers).push_back(name);
      current->shapes[name] = parse_dims(dims);
    }
  }
  return models;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Random BN affine parameters and running statistics, so that swapped or misplaced ones show.
void randomize_batch_norms(ParameterRegistry& params) {
  uint64_t seed = 1000;
  auto refill = [&](Tensor t, double lo, double hi) {
    t.copy_from(test::random_tensor(t.shape(), DType::f32, Device::cpu(), seed++, lo, hi));
  };
  for (Parameter* p : params.parameters()) {
    if (p->value.ndim() != 1) continue;
    const bool is_weight = ends_with(p->name, ".weight");
    refill(p->value, is_weight ? 0.5 : -0.2, is_weight ? 1.5 : 0.2);
  }
  for (const auto& [name, t] : params.buffers()) {
    const bool is_var = name.find("running_var") != std::string::npos;
    refill(t, is_var ? 0.5 : -0.2, is_var ? 2.0 : 0.2);
  }
}

void write_weights_for_torch(const ParameterRegistry& params, const fs::path& dir) {
  fs::create_directories(dir);
  for (const Parameter* p : params.parameters()) write_npy((dir / (p->name + ".npy")).string(), to_torch_layout(p->value));
  for (const auto& [name, t] : params.buffers()) write_npy((dir / (name + ".npy")).string(), t);
}

std::vector<double> host_copy(const Tensor& t) { return t.to_host_doubles(); }

// Every buffer of `params` against torchvision's in `dir` (the worst scaled error).
double worst_buffer_error(const ParameterRegistry& params, const fs::path& dir) {
  double worst = 0.0;
  for (const auto& [name, t] : params.buffers()) {
    const Tensor theirs = read_npy((dir / (name + ".npy")).string());
    worst = std::max(worst, scaled_max_error(theirs.to_host_doubles(), t.to_host_doubles()));
  }
  return worst;
}

void restore_buffers(const ParameterRegistry& params, const std::map<std::string, std::vector<double>>& saved) {
  for (const auto& [name, t] : params.buffers()) {
    Tensor b = t;
    b.copy_from(Tensor::from_vector(saved.at(name), t.shape(), DType::f32));
  }
}

// Our model against torchvision's on the same weights and input. Eval mode: f32 against f32.
// Train mode is checked in f64 against f64 (the exact function: batch statistics, running
// averages), then our f32 against torchvision's f64: deep train-mode BN networks lose digits in
// f32 (torchvision's own f32 ResNet-50 is ~5e-5 off its f64 run; ~0.8 with 2 x 32 x 32 inputs,
// where layer4 normalizes 2 values per channel), so f32 against f32 would compare two roundings.
void check_same_function_as_torchvision(const ResNetConfig& cfg, const Shape& input_shape) {
  const std::string label = str_cat("ResNet-", cfg.depth, " ", models::resnet_stem_name(cfg.stem), " ",
                                    shape_str(input_shape));
  CAPTURE(label);
  ParameterRegistry params;
  Generator gen(21);
  const ResNet net(LayerContext{params, gen, Device::cpu(), ""}, cfg);
  randomize_batch_norms(params);
  std::map<std::string, std::vector<double>> initial_buffers;
  for (const auto& [name, t] : params.buffers()) initial_buffers[name] = host_copy(t);
  const Tensor x = test::random_tensor(input_shape, DType::f32, Device::cpu(), 77);
  test::ScratchDir dir;
  write_weights_for_torch(params, dir.path / "weights");
  write_npy((dir.path / "x.npy").string(), x);
  run_torchvision_client(str_cat("forward --depth ", cfg.depth, " --in-channels ", cfg.in_channels, " --stem ",
                            models::resnet_stem_name(cfg.stem), " --weights '", (dir.path / "weights").string(),
                            "' --input '", (dir.path / "x.npy").string(), "' --out '", dir.path.string(), "'"));
  auto theirs = [&](const char* file) { return read_npy((dir.path / file).string()).to_host_doubles(); };
  NoGradScope no_grad;

  const Tensor eval_features = net.forward(x, false);
  CHECK(eval_features.shape() == Shape{input_shape[0], net.feature_dim()});
  const double eval_error = scaled_max_error(theirs("eval.npy"), host_copy(eval_features));
  CHECK(eval_error <= 1e-4);

  const double train64_error = scaled_max_error(theirs("train64.npy"), host_copy(net.forward(cast(x, DType::f64), true)));
  CHECK(train64_error <= 1e-9);
  // Our f64 statistics were stored into f32 buffers: f32 rounding.
  const double buffers64_error = worst_buffer_error(params, dir.path / "after_train64");
  CHECK(buffers64_error <= 1e-6);

  restore_buffers(params, initial_buffers);
  const std::vector<double> train32 = host_copy(net.forward(x, true));
  const double train32_error = scaled_max_error(theirs("train64.npy"), train32);
  const double torch_train32_error = scaled_max_error(theirs("train64.npy"), theirs("train.npy"));
  // 1e-4, or twice torchvision's own f32 error where that is larger (ResNet-50: ~1e-4 itself).
  CHECK(train32_error <= std::max(1e-4, 2.0 * torch_train32_error));
  const double buffers32_error = worst_buffer_error(params, dir.path / "after_train");
  CHECK(buffers32_error <= 1e-4);
  MESSAGE(label, ": eval f32 vs torchvision f32 ", eval_error, "; train f64 vs f64 ", train64_error,
          " (running stats ", buffers64_error, "); train f32 vs torchvision f64 ", train32_error,
          " (torchvision's own f32: ", torch_train32_error, "), running stats vs torchvision f32 ", buffers32_error);
}


}  // namespace

TEST_SUITE("models") {
  TEST_CASE("ResNet-18/34/50 have torchvision's parameter and buffer names, shapes and counts") {
    test::ScratchDir dir;
    const fs::path names = dir.path / "names.txt";
    const std::vector<std::pair<int, int>> configs{{18, 3}, {34, 3}, {50, 3}, {18, 13}, {50, 13}};
    std::string specs;
    for (const auto& [depth, channels] : configs) specs += str_cat(" ", depth, ":", channels);
    run_torchvision_client(str_cat("names --out '", names.string(), "' --model", specs));
    const std::map<std::string, TorchModel> torch_models = read_torch_models(names);
    const std::map<int, int64_t> expected_count{{18, 11176512}, {34, 21284672}, {50, 23508032}};
    for (const auto& [depth, channels] : configs) {
      CAPTURE(depth);
      CAPTURE(channels);
      const auto found = torch_models.find(str_cat(depth, ":", channels));
      REQUIRE(found != torch_models.end());
      const TorchModel& torch_model = found->second;
      ParameterRegistry params;
      Generator gen(3);
      ResNetConfig cfg;
      cfg.depth = depth;
      cfg.in_channels = channels;
      const ResNet net(LayerContext{params, gen, Device::cpu(), ""}, cfg);
      CHECK(net.feature_dim() == (depth == 50 ? 2048 : 512));
      std::vector<std::string> ours;
      for (const Parameter* p : params.parameters()) {
        ours.push_back(p->name);
        const auto shape = torch_model.shapes.find(p->name);
        if (shape != torch_model.shapes.end()) CHECK_MESSAGE(torch_shape(p->value.shape()) == shape->second, p->name);
      }
      CHECK(ours == torch_model.params);
      std::vector<std::string> our_buffers;
      for (const auto& [name, t] : params.buffers()) {
        our_buffers.push_back(name);
        const auto shape = torch_model.shapes.find(name);
        if (shape != torch_model.shapes.end()) CHECK_MESSAGE(t.shape() == shape->second, name);
      }
      std::vector<std::string> torch_buffers = torch_model.buffers;
      std::sort(torch_buffers.begin(), torch_buffers.end());
      CHECK(our_buffers == torch_buffers);
      CHECK(params.numel() == torch_model.count);
      if (channels == 3) CHECK(params.numel() == expected_count.at(depth));
    }
  }

  TEST_CASE("ResNet-18 and ResNet-50 compute torchvision's function (standard stem, 5 bands)") {
    ResNetConfig cfg;
    cfg.in_channels = 5;
    cfg.depth = 18;
    check_same_function_as_torchvision(cfg, {4, 64, 64, 5});
    cfg.depth = 50;
    check_same_function_as_torchvision(cfg, {4, 64, 64, 5});
  }

  TEST_CASE("ResNet-18 and ResNet-50 compute torchvision's function (small_patch stem)") {
    ResNetConfig cfg;
    cfg.in_channels = 5;
    cfg.stem = ResNetStem::small_patch;
    cfg.depth = 18;
    check_same_function_as_torchvision(cfg, {4, 15, 15, 5});
    cfg.depth = 50;
    check_same_function_as_torchvision(cfg, {4, 13, 13, 5});
  }

  TEST_CASE("ResNet-18 + MlpHead: f32 and the f64 reference agree (outputs, gradients, running stats)") {
    ParameterRegistry params;
    Generator gen(5);
    const LayerContext ctx{params, gen, Device::cpu(), ""};
    ResNetConfig cfg;
    cfg.depth = 18;
    cfg.in_channels = 4;
    cfg.stem = ResNetStem::small_patch;
    cfg.width = 16;
    const ResNet net(ctx.child("encoder"), cfg);
    const models::MlpHead head(ctx.child("projector"), net.feature_dim(), 64, 32);
    randomize_batch_norms(params);
    std::map<std::string, std::vector<double>> initial_buffers;
    for (const auto& [name, t] : params.buffers()) initial_buffers[name] = host_copy(t);
    const Tensor x32 = test::random_tensor({4, 12, 12, 4}, DType::f32, Device::cpu(), 31);
    const Tensor seed64 = test::random_tensor({4, 32}, DType::f64, Device::cpu(), 32);

    // One training step from the initial parameters and statistics: the output, every parameter
    // gradient and every running statistic after the step.
    struct Step {
      std::vector<double> y;
      std::vector<std::vector<double>> grads, buffers;
    };
    auto step = [&](const Tensor& x) {
      params.zero_grad();
      restore_buffers(params, initial_buffers);
      const Tensor y = head.forward(net.forward(x, true), true);
      CHECK(y.dtype() == x.dtype());
      backward(y, cast(seed64, x.dtype()));
      Step s;
      s.y = host_copy(y);
      for (const Parameter* p : params.parameters()) s.grads.push_back(host_copy(p->value.grad()));
      for (const auto& [name, t] : params.buffers()) s.buffers.push_back(host_copy(t));
      return s;
    };
    const Step f32 = step(x32);
    const Step f64 = step(cast(x32, DType::f64));
    const double y_error = scaled_max_error(f64.y, f32.y);
    CHECK(y_error <= 1e-4);
    double worst_grad = 0.0, worst_buffer = 0.0;
    const std::vector<const Parameter*> list = static_cast<const ParameterRegistry&>(params).parameters();
    for (size_t i = 0; i < list.size(); ++i) {
      CAPTURE(list[i]->name);
      if (list[i]->name == "projector.0.bias") {
        // It feeds a train-mode BN, which subtracts the batch mean: its gradient is 0 in exact
        // arithmetic, so both runs give rounding noise, small against the weight's gradient (i - 1).
        const double weight_scale = max_abs(f64.grads[i - 1]);
        CHECK(max_abs(f32.grads[i]) <= 1e-4 * weight_scale);
        CHECK(max_abs(f64.grads[i]) <= 1e-12 * weight_scale);
        continue;
      }
      const double e = scaled_max_error(f64.grads[i], f32.grads[i]);
      CHECK(e <= 1e-4);
      worst_grad = std::max(worst_grad, e);
    }
    for (size_t i = 0; i < f32.buffers.size(); ++i) {
      const double e = scaled_max_error(f64.buffers[i], f32.buffers[i]);
      CHECK(e <= 1e-4);
      worst_buffer = std::max(worst_buffer, e);
    }
    MESSAGE("f32 vs f64: output ", y_error, ", worst gradient ", worst_grad, ", worst running statistic ", worst_buffer);
    // The f64 run really ran in f64 and moved the statistics.
    CHECK(f64.buffers[0] != initial_buffers.begin()->second);
  }

  TEST_CASE("ParameterCastScope converts each parameter once per dtype; gradients as without it, bit for bit") {
    // Directly: the uses share one conversion, each records its own cast (one made without grad
    // first), and every use's gradient reaches the f32 weight.
    Tensor w = test::leaf(Tensor::from_vector({1.5, -2.0}, {2}, DType::f32));
    {
      models::ParameterCastScope casts;
      Tensor first;
      {
        NoGradScope no_grad;
        first = casts.cast(w, DType::f64);
      }
      const Tensor a = casts.cast(w, DType::f64), b = casts.cast(w, DType::f64);
      CHECK(a.raw() == first.raw());
      CHECK(b.raw() == first.raw());
      CHECK(!first.requires_grad());
      CHECK(a.requires_grad());
      CHECK(casts.cast(w, DType::f32).same(w));
      backward(add(sum(a), scale(sum(b), 2.0)));
    }
    CHECK(w.grad().to_host_doubles() == std::vector<double>{3.0, 3.0});

    // Through a network that sees two views (BYOL's online branch), in f64 from f32 parameters: the
    // same loss and gradients, and less step memory (one f64 copy of the weights, not two).
    ParameterRegistry params;
    Generator gen(6);
    const LayerContext ctx{params, gen, Device::cpu(), ""};
    ResNetConfig cfg;
    cfg.depth = 18;
    cfg.in_channels = 3;
    cfg.stem = ResNetStem::small_patch;
    cfg.width = 8;
    const ResNet net(ctx.child("encoder"), cfg);
    const models::MlpHead head(ctx.child("projector"), net.feature_dim(), 16, 8);
    const Tensor v1 = test::random_tensor({2, 8, 8, 3}, DType::f64, Device::cpu(), 41);
    const Tensor v2 = test::random_tensor({2, 8, 8, 3}, DType::f64, Device::cpu(), 42);
    struct Step {
      std::vector<std::vector<double>> values;  // the loss, then every parameter's gradient
      int64_t peak_bytes = 0;
    };
    auto step = [&](bool scoped) {
      params.zero_grad();
      Arena arena(Device::cpu());
      Step s;
      {
        ArenaScope in_arena(arena);
        auto casts = scoped ? std::make_unique<models::ParameterCastScope>() : nullptr;
        const Tensor loss = add(sum(head.forward(net.forward(v1, true), true)),
                                sum(head.forward(net.forward(v2, true), true)));
        casts.reset();
        backward(loss);
        s.values.push_back(host_copy(loss));
        s.peak_bytes = arena.stats().peak_bytes_in_use;
      }
      for (const Parameter* p : params.parameters()) s.values.push_back(host_copy(p->value.grad()));
      return s;
    };
    const Step plain = step(false), scoped = step(true);
    CHECK(scoped.values == plain.values);
    CHECK(scoped.peak_bytes < plain.peak_bytes);
  }

  TEST_CASE("a folded ResNet computes the eval-mode network within float32 rounding, on every CPU backend") {
    struct Case {
      int depth;
      ResNetStem stem;
      Shape x;
    };
    uint64_t seed = 40;
    for (const Case& c : {Case{18, ResNetStem::small_patch, {3, 16, 16, 5}}, Case{50, ResNetStem::standard, {2, 64, 64, 5}}}) {
      ParameterRegistry params(false);
      Generator gen(7);
      ResNetConfig cfg;
      cfg.depth = c.depth;
      cfg.stem = c.stem;
      cfg.in_channels = 5;
      cfg.width = 16;
      const ResNet net(LayerContext{params, gen, Device::cpu(), ""}, cfg);
      // Batch norms far from identity, so that a wrong fold shows: every 1-D parameter is one.
      for (Parameter* p : params.parameters())
        if (p->value.ndim() == 1)
          p->value.copy_from(p->name.find("weight") != std::string::npos
                                 ? test::random_tensor(p->value.shape(), DType::f32, Device::cpu(), ++seed, 0.5, 1.5)
                                 : test::random_tensor(p->value.shape(), DType::f32, Device::cpu(), ++seed, -0.2, 0.2));
      for (const auto& [name, buffer] : params.buffers()) {
        const bool var = name.find("running_var") != std::string::npos;
        params.find_buffer(name)->copy_from(
            test::random_tensor(buffer.shape(), DType::f32, Device::cpu(), ++seed, var ? 0.5 : -0.2, var ? 2.0 : 0.2));
      }
      const Tensor x = test::random_tensor(c.x, DType::f32, Device::cpu(), ++seed);
      const models::FoldedResNet folded = net.fold();
      for (const Backend backend : {Backend::cpu, Backend::onednn}) {
        if (!cpu_backend_available(backend)) continue;
        INFO("ResNet-", c.depth, " on ", backend_name(backend));
        const CpuBackendScope scope(backend);
        const NoGradScope no_grad;
        CHECK(test::scaled_max_error(net.forward(x, false), folded.forward(x)) <= 1e-5);
        CHECK(test::scaled_max_error(net.feature_map(x, false), folded.feature_map(x)) <= 1e-5);
      }
    }
  }

  TEST_CASE("zero_init_residual zeroes the last BN weight of every residual block, and only it") {
    for (int depth : {18, 50}) {
      for (bool zero_init : {false, true}) {
        CAPTURE(depth);
        CAPTURE(zero_init);
        ParameterRegistry params;
        Generator gen(9);
        ResNetConfig cfg;
        cfg.depth = depth;
        cfg.width = 8;
        cfg.zero_init_residual = zero_init;
        const ResNet net(LayerContext{params, gen, Device::cpu(), "enc."}, cfg);
        const std::string last_bn = depth == 50 ? ".bn3.weight" : ".bn2.weight";
        int zeroed = 0;
        for (const Parameter* p : params.parameters()) {
          if (p->value.ndim() != 1 || !ends_with(p->name, ".weight")) continue;
          const bool expect_zero = zero_init && p->name.compare(0, 9, "enc.layer") == 0 && ends_with(p->name, last_bn);
          zeroed += expect_zero ? 1 : 0;
          for (double v : p->value.to_host_doubles()) CHECK_MESSAGE(v == (expect_zero ? 0.0 : 1.0), p->name);
        }
        CHECK(zeroed == (zero_init ? (depth == 50 ? 16 : 8) : 0));
      }
    }
  }

  TEST_CASE("ResNet configuration errors name the problem and the valid choices") {
    ParameterRegistry params;
    Generator gen(1);
    const LayerContext ctx{params, gen, Device::cpu(), ""};
    ResNetConfig cfg;
    cfg.depth = 101;
    const std::string depth_error = error_of([&] { ResNet net(ctx, cfg); });
    CHECK(depth_error.find("101") != std::string::npos);
    CHECK(depth_error.find("18, 34, 50") != std::string::npos);
    cfg.depth = 18;
    cfg.in_channels = 0;
    CHECK(error_of([&] { ResNet net(ctx, cfg); }).find("in_channels") != std::string::npos);
    CHECK(models::parse_resnet_stem("small-patch") == ResNetStem::small_patch);
    CHECK(models::parse_resnet_stem(models::resnet_stem_name(ResNetStem::standard)) == ResNetStem::standard);
    const std::string stem_error = error_of([] { models::parse_resnet_stem("tiny"); });
    CHECK(stem_error.find("tiny") != std::string::npos);
    CHECK(stem_error.find("standard, small-patch") != std::string::npos);
    cfg.in_channels = 3;
    cfg.width = 4;
    const ResNet net(ctx.child("net"), cfg);
    const std::string input_error =
        error_of([&] { net.forward(test::random_tensor({2, 8, 8, 5}, DType::f32, Device::cpu(), 1), true); });
    CHECK(input_error.find("ResNet-18") != std::string::npos);
    CHECK(input_error.find("f32[2,8,8,5]") != std::string::npos);
  }

  TEST_CASE("MlpHead: nn.Sequential(Linear, BatchNorm1d, ReLU, Linear) names and function") {
    ParameterRegistry params;
    Generator gen(2);
    const models::MlpHead head(LayerContext{params, gen, Device::cpu(), "online.projector."}, 6, 10, 3);
    std::vector<std::string> names;
    for (const Parameter* p : params.parameters()) names.push_back(p->name);
    CHECK(names == std::vector<std::string>{"online.projector.0.weight", "online.projector.0.bias",
                                            "online.projector.1.weight", "online.projector.1.bias",
                                            "online.projector.3.weight", "online.projector.3.bias"});
    CHECK(params.find("online.projector.0.weight")->value.shape() == Shape{10, 6});
    CHECK(params.find("online.projector.3.weight")->value.shape() == Shape{3, 10});
    CHECK(params.find_buffer("online.projector.1.running_mean") != nullptr);
    CHECK(params.find_buffer("online.projector.1.running_var") != nullptr);
    CHECK(head.out_features() == 3);
    // Eval with fresh statistics (mean 0, var 1, gamma 1, beta 0): BN divides by sqrt(1 + eps).
    const Tensor x = test::random_tensor({4, 6}, DType::f32, Device::cpu(), 8);
    const Tensor y = head.forward(x, false);
    const Tensor& w1 = params.find("online.projector.0.weight")->value;
    const Tensor& b1 = params.find("online.projector.0.bias")->value;
    const Tensor& w2 = params.find("online.projector.3.weight")->value;
    const Tensor& b2 = params.find("online.projector.3.bias")->value;
    std::vector<double> h = linear(x, w1, b1).to_host_doubles();
    for (double& v : h) v = std::max(0.0, v / std::sqrt(1.0 + 1e-5));
    const Tensor expected = linear(Tensor::from_vector(h, {4, 10}, DType::f32), w2, b2);
    CHECK(y.shape() == Shape{4, 3});
    CHECK(scaled_max_error(expected.to_host_doubles(), y.to_host_doubles()) <= 1e-6);
    CHECK(error_of([&] { models::MlpHead bad(LayerContext{params, gen, Device::cpu(), "bad."}, 6, 0, 3); })
              .find("hidden 0") != std::string::npos);
  }

  TEST_CASE("NumPy reads what write_npy wrote, and read_npy reads what NumPy wrote") {
    test::ScratchDir dir;
    const fs::path ours = dir.path / "ours", numpy = dir.path / "numpy";
    fs::create_directories(ours);
    std::map<std::string, Tensor> written;
    written["f32"] = test::random_tensor({2, 3, 4}, DType::f32, Device::cpu(), 1, -1e3, 1e3);
    written["f64"] = test::random_tensor({5}, DType::f64, Device::cpu(), 2);
    written["f16"] = test::random_tensor({3, 2}, DType::f16, Device::cpu(), 3, -4.0, 4.0);
    written["i32"] = Tensor::from_ints({-2147483647 - 1, -1, 0, 7, 2147483647, 12}, {2, 3});
    written["u8"] = Tensor::from_vector({0, 1, 128, 255}, {4, 1}, DType::u8);
    written["scalar"] = Tensor::from_vector({-0.5}, {}, DType::f32);
    written["empty"] = Tensor::zeros({0, 3}, DType::f32);
    for (const auto& [name, t] : written) write_npy((ours / (name + ".npy")).string(), t);
    run_torchvision_client(str_cat("npy --in '", ours.string(), "' --out '", numpy.string(), "'"));
    const std::map<std::string, std::string> descr{{"f32", "<f4"}, {"f64", "<f8"},    {"f16", "<f2"},  {"i32", "<i4"},
                                                   {"u8", "|u1"},  {"scalar", "<f4"}, {"empty", "<f4"}};
    for (const auto& [name, t] : written) {
      CAPTURE(name);
      std::ifstream in(numpy / (name + ".txt"));
      std::string dtype, dims;
      std::getline(in, dtype);
      std::getline(in, dims);
      std::vector<double> values;
      for (std::string line; std::getline(in, line);)
        if (!line.empty()) values.push_back(std::stod(line));
      CHECK(dtype == descr.at(name));
      CHECK(parse_dims(dims) == t.shape());
      CHECK(values == t.to_host_doubles());
    }
    for (const auto& [file, dtype] : std::map<std::string, DType>{{"float32", DType::f32}, {"float64", DType::f64},
                                                                  {"float16", DType::f16}, {"int32", DType::i32},
                                                                  {"uint8", DType::u8}}) {
      CAPTURE(file);
      const Tensor t = read_npy((numpy / ("numpy_" + file + ".npy")).string());
      CHECK(t.dtype() == dtype);
      CHECK(t.shape() == Shape{2, 3, 4});
      const std::vector<double> v = t.to_host_doubles();
      for (size_t i = 0; i < v.size(); ++i) CHECK(v[i] == static_cast<double>(i));
    }
    const std::string fortran = (numpy / "numpy_fortran.npy").string();
    CHECK(error_of([&] { read_npy(fortran); }).find(fortran + ": Fortran-ordered") != std::string::npos);
    const std::string big = (numpy / "numpy_bigendian.npy").string();
    CHECK(error_of([&] { read_npy(big); }).find(big + ": big-endian") != std::string::npos);
  }
}
