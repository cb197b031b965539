#include "models/resnet.h"

#include <array>
#include <utility>

#include "engine/ops/elementwise.h"
#include "engine/ops/pool.h"

namespace rsd::models {

namespace {

struct Architecture {
  int depth;
  bool bottleneck;
  std::array<int, 4> blocks;  // per stage, layer1 .. layer4
};

constexpr std::array<Architecture, 3> kArchitectures{{
    {18, false, {2, 2, 2, 2}},
    {34, false, {3, 4, 6, 3}},
    {50, true, {3, 4, 6, 3}},
}};

const Architecture& architecture(int depth) {
  for (const Architecture& a : kArchitectures)
    if (a.depth == depth) return a;
  fail("ResNet: depth ", depth, " is not supported; valid depths: 18, 34, 50");
}

const ResNetConfig& validated(const ResNetConfig& cfg) {
  architecture(cfg.depth);
  RSD_CHECK(cfg.in_channels >= 1, "ResNet-", cfg.depth, ": in_channels must be at least 1, got ", cfg.in_channels);
  RSD_CHECK(cfg.width >= 1, "ResNet-", cfg.depth, ": width must be at least 1, got ", cfg.width);
  return cfg;
}

// Stages layer1..layer4: `planes` = width, 2 width, 4 width, 8 width; stride 2 at the first block
// of layers 2-4. Each block reads the previous one's channels (planes * expansion).
template <typename Block>
void add_stages(const LayerContext& ctx, const ResNetConfig& cfg, const Architecture& arch,
                std::vector<std::variant<BasicBlock, Bottleneck>>& blocks) {
  int channels = cfg.width;
  for (int stage = 0; stage < 4; ++stage) {
    const int planes = cfg.width << stage;
    for (int b = 0; b < arch.blocks[static_cast<size_t>(stage)]; ++b) {
      const int stride = stage > 0 && b == 0 ? 2 : 1;
      const LayerContext block_ctx = ctx.child(str_cat("layer", stage + 1, ".", b));
      blocks.emplace_back(std::in_place_type<Block>, block_ctx, channels, planes, stride, cfg.zero_init_residual);
      channels = planes * Block::kExpansion;
    }
  }
}

}  // namespace

const char* resnet_stem_name(ResNetStem stem) {
  switch (stem) {
    case ResNetStem::standard: return "standard";
    case ResNetStem::small_patch: return "small-patch";
  }
  return "unknown";
}

ResNetStem parse_resnet_stem(const std::string& name) {
  for (ResNetStem stem : {ResNetStem::standard, ResNetStem::small_patch})
    if (name == resnet_stem_name(stem)) return stem;
  fail("ResNet: unknown stem \"", name, "\"; valid stems: standard, small-patch");
}

ResNet::ResNet(const LayerContext& ctx, const ResNetConfig& cfg)
    : cfg_(validated(cfg)),
      name_(str_cat("ResNet-", cfg.depth)),
      conv1_(ctx.child("conv1"), cfg.in_channels, cfg.width, cfg.stem == ResNetStem::standard ? 7 : 3,
             cfg.stem == ResNetStem::standard ? 2 : 1, cfg.stem == ResNetStem::standard ? 3 : 1),
      bn1_(ctx.child("bn1"), cfg.width) {
  const Architecture& arch = architecture(cfg.depth);
  if (arch.bottleneck) {
    add_stages<Bottleneck>(ctx, cfg, arch, blocks_);
    feature_dim_ = 8 * cfg.width * Bottleneck::kExpansion;
  } else {
    add_stages<BasicBlock>(ctx, cfg, arch, blocks_);
    feature_dim_ = 8 * cfg.width * BasicBlock::kExpansion;
  }
}

FoldedResNet ResNet::fold() const {
  std::vector<FoldedBlock> blocks;
  for (const ResidualBlock& block : blocks_) blocks.push_back(std::visit([](const auto& b) { return b.fold(); }, block));
  return FoldedResNet(name_ + " (folded)", cfg_.in_channels, fold_conv_bn(conv1_, bn1_, true),
                      cfg_.stem == ResNetStem::standard, std::move(blocks));
}

Tensor ResNet::forward(const Tensor& x, bool training) const { return global_avg_pool(feature_map(x, training)); }

Tensor ResNet::feature_map(const Tensor& x, bool training) const {
  RSD_CHECK(x.defined(), name_, ": the input is undefined");
  RSD_CHECK(x.ndim() == 4 && x.dim(-1) == cfg_.in_channels, name_, ": input ", x.describe(), " must be (N, H, W, ",
            cfg_.in_channels, ")");
  Tensor h = bn1_.forward_relu(conv1_.forward(x), training);  // (N, H/2, W/2, width) or (N, H, W, width)
  if (cfg_.stem == ResNetStem::standard) h = max_pool2d(h, 3, 2, 1);  // (N, H/4, W/4, width)
  for (const ResidualBlock& block : blocks_)
    h = std::visit([&](const auto& b) { return b.forward(h, training); }, block);
  return h;  // (N, H / stride, W / stride, feature_dim)
}

}  // namespace rsd::models
