#include "engine/rng.h"

#include "engine/backend.h"
#include "engine/copy.h"
#include "engine/ops/checks.h"
#include "kernels/philox.h"

#if RSD_HAVE_CUDA
#include "engine/cuda/rng.h"
#endif

namespace rsd {

namespace {

// CPU fills compute in f32 (as the kernels do) and store into the tensor's dtype.
template <typename Draw>
void fill_host(Tensor& t, Draw draw) {
  const int64_t n = t.numel();
  void* p = t.raw();
  if (t.dtype() == DType::f32) {
    float* f = static_cast<float*>(p);
    for (int64_t i = 0; i < n; ++i) f[i] = draw(static_cast<uint64_t>(i));
    return;
  }
  for (int64_t i = 0; i < n; ++i) cpu::store_element(t.dtype(), p, i, draw(static_cast<uint64_t>(i)));
}

}  // namespace

void fill_uniform_(Tensor& t, uint64_t seed, uint64_t offset, double lo, double hi) {
  check::floating("fill_uniform", "t", t);
  if (t.is_cuda()) {
    RSD_CUDA_CALL(cuda::fill_uniform(t, seed, offset, lo, hi));
    return;
  }
  const float flo = static_cast<float>(lo), fhi = static_cast<float>(hi);
  fill_host(t, [&](uint64_t i) { return kernels::philox_uniform_at(seed, offset, i, flo, fhi); });
}

void fill_normal_(Tensor& t, uint64_t seed, uint64_t offset, double mean, double std) {
  check::floating("fill_normal", "t", t);
  if (t.is_cuda()) {
    RSD_CUDA_CALL(cuda::fill_normal(t, seed, offset, mean, std));
    return;
  }
  const float fm = static_cast<float>(mean), fs = static_cast<float>(std);
  fill_host(t, [&](uint64_t i) { return kernels::philox_normal_at(seed, offset, i, fm, fs); });
}

uint64_t Generator::take(int64_t numel) {
  const uint64_t start = offset_;
  offset_ += (static_cast<uint64_t>(numel) + 3) / 4;
  return start;
}

void Generator::uniform_(Tensor& t, double lo, double hi) { fill_uniform_(t, seed_, take(t.numel()), lo, hi); }

void Generator::normal_(Tensor& t, double mean, double std) { fill_normal_(t, seed_, take(t.numel()), mean, std); }

}  // namespace rsd
