#include "engine/ops/l2norm.h"

#include <algorithm>
#include <cmath>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/dispatch.h"
#include "engine/ops/checks.h"

#if RSD_HAVE_CUDA
#include "engine/cuda/l2norm.h"
#endif

namespace rsd {

// The CPU reference; norms (R) have x's dtype here (f32 on CUDA). Sums run in double.
namespace cpu {

void l2_normalize_forward(const Tensor& x, Tensor& y, Tensor& norms, double eps) {
  dispatch_cpu_float(x.dtype(), "l2_normalize", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t R = x.dim(0), D = x.dim(1);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    T* pn = norms.data<T>();
    for (int64_t r = 0; r < R; ++r) {
      const T* row = px + r * D;
      double ss = 0.0;
      for (int64_t d = 0; d < D; ++d) ss += static_cast<double>(row[d]) * static_cast<double>(row[d]);
      const double norm = std::sqrt(ss);
      const double inv = 1.0 / std::max(norm, eps);
      pn[r] = static_cast<T>(norm);
      for (int64_t d = 0; d < D; ++d) py[r * D + d] = static_cast<T>(static_cast<double>(row[d]) * inv);
    }
  });
}

void l2_normalize_backward(const Tensor& gy, const Tensor& y, const Tensor& norms, Tensor& gx, double eps) {
  dispatch_cpu_float(y.dtype(), "l2_normalize backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t R = y.dim(0), D = y.dim(1);
    const T* pg = gy.data<T>();
    const T* py = y.data<T>();
    const T* pn = norms.data<T>();
    T* out = gx.data<T>();
    for (int64_t r = 0; r < R; ++r) {
      const double norm = static_cast<double>(pn[r]);
      // Below eps the forward divided by the constant eps: the projection term vanishes.
      double dot = 0.0;
      if (norm > eps)
        for (int64_t d = 0; d < D; ++d) dot += static_cast<double>(pg[r * D + d]) * static_cast<double>(py[r * D + d]);
      const double inv = 1.0 / std::max(norm, eps);
      for (int64_t d = 0; d < D; ++d) {
        const int64_t i = r * D + d;
        out[i] = static_cast<T>((static_cast<double>(pg[i]) - static_cast<double>(py[i]) * dot) * inv);
      }
    }
  });
}

}  // namespace cpu

Tensor l2_normalize(const Tensor& x, double eps) {
  const char* op = "l2_normalize";
  check::defined(op, "x", x);
  check::floating(op, "x", x);
  check::ndim(op, "x", x, 2);
  RSD_CHECK(eps > 0.0, op, ": eps must be positive, got ", eps, " for x ", x.describe());
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor norms = Tensor::empty({x.dim(0)}, x.is_cuda() ? DType::f32 : x.dtype(), x.device());
  if (x.is_cuda()) {
    RSD_CUDA_CALL(cuda::l2_normalize_forward(x, y, norms, eps));
  } else {
    cpu::l2_normalize_forward(x, y, norms, eps);
  }
  if (needs_grad({x})) {
    record(op, {y}, [x, y, norms, eps] {
      Tensor gx = Tensor::empty(x.shape(), x.dtype(), x.device());
      if (x.is_cuda()) {
        RSD_CUDA_CALL(cuda::l2_normalize_backward(y.grad(), y, norms, gx, eps));
      } else {
        cpu::l2_normalize_backward(y.grad(), y, norms, gx, eps);
      }
      accumulate_grad(x, gx);
    });
  }
  return y;
}

}  // namespace rsd
