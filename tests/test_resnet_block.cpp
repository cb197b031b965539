// A ResNet basic block (conv-bn-relu-conv-bn-add-relu) forward and backward in f32 on the CPU
// against the same block in f64: every output and gradient within 1e-5 relative (normalized by the
// largest magnitude of each tensor, since single elements near zero have no relative precision).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "engine/autograd.h"
#include "engine/ops/batchnorm.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/elementwise.h"
#include "engine/params.h"
#include "models/basic_block.h"
#include "tests/support/harness.h"

using namespace rsd;

namespace {

struct BlockTensors {
  std::vector<Tensor> inputs;  // x, w1, g1, b1, w2, g2, b2
  Tensor rm1, rv1, rm2, rv2;
};

BlockTensors make_block(DType dtype, int n, int hw, int c) {
  BlockTensors b;
  const Shape x_shape{n, hw, hw, c}, w_shape{c, 3, 3, c}, ch{c};
  uint64_t seed = 11;
  b.inputs.push_back(test::random_tensor(x_shape, dtype, Device::cpu(), seed++));
  for (int layer = 0; layer < 2; ++layer) {
    b.inputs.push_back(test::random_tensor(w_shape, dtype, Device::cpu(), seed++, -0.3, 0.3));
    b.inputs.push_back(test::random_tensor(ch, dtype, Device::cpu(), seed++, 0.5, 1.5));
    b.inputs.push_back(test::random_tensor(ch, dtype, Device::cpu(), seed++, -0.5, 0.5));
  }
  for (Tensor& t : b.inputs) t.set_requires_grad(true);
  b.rm1 = Tensor::zeros(ch, dtype);
  b.rm2 = Tensor::zeros(ch, dtype);
  b.rv1 = Tensor::full(ch, 1.0, dtype);
  b.rv2 = Tensor::full(ch, 1.0, dtype);
  return b;
}

Tensor block_forward(BlockTensors& b) {
  const auto& in = b.inputs;
  Tensor h = relu(batch_norm2d(conv2d(in[0], in[1], 1, 1), in[2], in[3], b.rm1, b.rv1, true));
  h = batch_norm2d(conv2d(h, in[4], 1, 1), in[5], in[6], b.rm2, b.rv2, true);
  return relu(add(h, in[0]));
}

double scaled_max_error(const std::vector<double>& ref, const std::vector<double>& got) {
  double scale = 0.0;
  for (double v : ref) scale = std::max(scale, std::fabs(v));
  return test::max_relative_error(ref, got, std::max(scale, 1e-30));
}

}  // namespace

TEST_SUITE("resnet_block") {
  TEST_CASE("basic block forward and backward: f32 equals f64 within 1e-5") {
    BlockTensors b32 = make_block(DType::f32, 2, 9, 8);
    BlockTensors b64 = make_block(DType::f64, 2, 9, 8);
    // One block at a time: backward() replays and clears the whole tape of the thread.
    Tensor y32 = block_forward(b32);
    Tensor seed64 = test::random_tensor(y32.shape(), DType::f64, Device::cpu(), 99);
    Tensor seed32 = Tensor::empty(y32.shape(), DType::f32);
    seed32.copy_from(seed64);
    backward(y32, seed32);
    Tensor y64 = block_forward(b64);
    backward(y64, seed64);
    CHECK(scaled_max_error(y64.to_host_doubles(), y32.to_host_doubles()) <= 1e-5);
    const char* names[] = {"x", "conv1.weight", "bn1.weight", "bn1.bias", "conv2.weight", "bn2.weight", "bn2.bias"};
    for (size_t k = 0; k < b32.inputs.size(); ++k) {
      CAPTURE(names[k]);
      CHECK(scaled_max_error(b64.inputs[k].grad().to_host_doubles(), b32.inputs[k].grad().to_host_doubles()) <= 1e-5);
    }
    CHECK(scaled_max_error(b64.rm1.to_host_doubles(), b32.rm1.to_host_doubles()) <= 1e-5);
    CHECK(scaled_max_error(b64.rv2.to_host_doubles(), b32.rv2.to_host_doubles()) <= 1e-5);
  }

  TEST_CASE("the BasicBlock module names its parameters as torchvision does") {
    ParameterRegistry params;
    Generator gen(1);
    models::BasicBlock block(models::LayerContext{params, gen, Device::cpu(), "layer2.0."}, 8, 16, 2);
    std::vector<std::string> names;
    for (const Parameter* p : params.parameters()) names.push_back(p->name);
    CHECK(names == std::vector<std::string>{"layer2.0.conv1.weight", "layer2.0.bn1.weight", "layer2.0.bn1.bias",
                                            "layer2.0.conv2.weight", "layer2.0.bn2.weight", "layer2.0.bn2.bias",
                                            "layer2.0.downsample.0.weight", "layer2.0.downsample.1.weight",
                                            "layer2.0.downsample.1.bias"});
    CHECK(params.find_buffer("layer2.0.downsample.1.running_var") != nullptr);
    Tensor x = test::random_tensor({2, 8, 8, 8}, DType::f32, Device::cpu(), 5);
    Tensor y = block.forward(x, true);
    CHECK(y.shape() == Shape{2, 4, 4, 16});
    for (double v : y.to_host_doubles()) CHECK(v >= 0.0);
  }
}
