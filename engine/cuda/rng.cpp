#include "engine/cuda/rng.h"

#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/cuda/dispatch.h"
#include "kernels/rng.cuh"

namespace rsd::cuda {

namespace {
// f64 and f16 tensors are filled through an f32 tensor (same numbers, then converted).
template <typename Launch>
void fill_via_f32_if_needed(Tensor& t, Launch launch) {
  if (t.dtype() == DType::f32 || t.dtype() == DType::bf16) {
    launch(t);
    return;
  }
  Tensor f = Tensor::empty(t.shape(), DType::f32, t.device());
  launch(f);
  t.copy_from(f);
}
}  // namespace

void fill_uniform(Tensor& t, uint64_t seed, uint64_t offset, double lo, double hi) {
  fill_via_f32_if_needed(t, [&](Tensor& out) {
    dispatch_float(out.dtype(), "fill_uniform", [&](auto tag) {
      using T = typename decltype(tag)::type;
      kernels::fill_uniform<T>(static_cast<T*>(out.raw()), out.numel(), seed, offset, static_cast<float>(lo),
                               static_cast<float>(hi), context(out.device().index).stream);
    });
    RSD_CUDA_CHECK_LAUNCH("fill_uniform ", out.describe());
  });
}

void fill_normal(Tensor& t, uint64_t seed, uint64_t offset, double mean, double std) {
  fill_via_f32_if_needed(t, [&](Tensor& out) {
    dispatch_float(out.dtype(), "fill_normal", [&](auto tag) {
      using T = typename decltype(tag)::type;
      kernels::fill_normal<T>(static_cast<T*>(out.raw()), out.numel(), seed, offset, static_cast<float>(mean),
                              static_cast<float>(std), context(out.device().index).stream);
    });
    RSD_CUDA_CHECK_LAUNCH("fill_normal ", out.describe());
  });
}

}  // namespace rsd::cuda
