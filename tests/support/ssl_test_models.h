// Tiny instances of the three SSL methods and random views for them, shared by the pretraining
// tests (tests/test_pretrain.cpp) and the data-parallel equivalence tests (tests/mpi/).
#pragma once
#include <memory>
#include <vector>

#include "engine/rng.h"
#include "models/byol.h"
#include "models/dual_contrastive.h"
#include "models/simclr.h"
#include "tests/support/harness.h"

namespace rsd::test {

inline models::ResNetConfig tiny_encoder() {
  models::ResNetConfig r;
  r.depth = 18;
  r.width = 8;
  r.stem = models::ResNetStem::small_patch;
  r.zero_init_residual = false;  // zero BN scales would leave half the gradients exactly zero
  return r;
}

enum class SslKind { byol, dual, simclr, dual_learnable };

inline const char* ssl_kind_name(SslKind k) {
  switch (k) {
    case SslKind::byol: return "byol";
    case SslKind::dual: return "dual-contrastive";
    case SslKind::simclr: return "simclr";
    default: return "dual-contrastive, learnable temperature";
  }
}

// The same weights for the same seed, on any device (Philox initialization is device-independent).
inline std::unique_ptr<models::SslMethod> make_tiny_method(SslKind kind, uint64_t seed, Device device = Device::cpu()) {
  Generator gen(seed);
  if (kind == SslKind::byol) {
    models::ByolOptions o;
    o.encoder = tiny_encoder();
    o.encoder.in_channels = 3;
    o.projector_hidden = 32;
    o.projector_out = 16;
    o.predictor_hidden = 32;
    o.tau_base = 0.9;
    o.total_steps = 10;
    return std::make_unique<models::Byol>(o, device, gen);
  }
  models::ContrastiveOptions o;
  o.encoder = tiny_encoder();
  o.projector_hidden = 32;
  o.projector_out = 16;
  o.temperature = 0.2;
  o.learnable_temperature = kind == SslKind::dual_learnable;
  if (kind == SslKind::simclr) return std::make_unique<models::SimClr>(o, 4, device, gen);
  return std::make_unique<models::DualContrastive>(o, 2, 5, device, gen);
}

inline std::vector<int64_t> ssl_view_channels(SslKind kind) {
  if (kind == SslKind::byol) return {3, 3};
  if (kind == SslKind::simclr) return {4, 4};
  return {2, 5};
}

// Random views (n, hw, hw, C_k) in `dtype` on `device`, a pure function of seed.
inline std::vector<Tensor> random_ssl_views(SslKind kind, DType dtype, uint64_t seed, int64_t n = 6, int64_t hw = 12,
                                            Device device = Device::cpu()) {
  std::vector<Tensor> out;
  for (int64_t c : ssl_view_channels(kind)) {
    Tensor v = random_tensor({n, hw, hw, c}, DType::f64, Device::cpu(), seed++);
    Tensor cast_v = Tensor::empty(v.shape(), dtype, device);
    cast_v.copy_from(v);
    out.push_back(cast_v);
  }
  return out;
}

}  // namespace rsd::test
