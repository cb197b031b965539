// SimCLR (Chen et al. 2020), the augmentation baseline: one encoder and projector, two augmented
// views of the same image (data/views.h: simclr_ms, multispectral augmentations), InfoNCE with the
// other view of the same image as the positive:
//   L = info_nce(projector(encoder(v1)), projector(encoder(v2)), temperature), symmetric.
// Unlike SimCLR's NT-Xent, the negatives of a row are the other images' second views only (the
// CLIP form the dual-encoder method uses too), so the two methods differ only in their views and
// in sharing one encoder.
//
// Parameter names: encoder.* (torchvision's ResNet names), projector.{0,1,3}.*, log_temperature.
#pragma once
#include "models/dual_contrastive.h"

namespace rsd::models {

class SimClr final : public SslMethod {
 public:
  SimClr(const ContrastiveOptions& options, int channels, Device device, Generator& gen);
  const char* name() const override { return "simclr"; }
  SslOutput forward(const std::vector<Tensor>& views) override;
  std::map<std::string, double> scalars(int64_t step) const override;

 private:
  ResNet encoder_;
  MlpHead projector_;
  Temperature temperature_;
};

}  // namespace rsd::models
