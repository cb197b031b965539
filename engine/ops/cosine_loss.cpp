#include "engine/ops/cosine_loss.h"

#include <algorithm>
#include <cmath>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/dispatch.h"
#include "engine/ops/checks.h"

#if RSD_HAVE_CUDA
#include "engine/cuda/cosine_loss.h"
#endif

namespace rsd {

// The CPU reference: p, z (B, D) of one dtype (f32 or f64), sums in double. Writes what is asked
// for: loss {1} = mean_i (2 - 2 cos_i), and dp (B, D) = g * dloss/dp with, per row (np = max(|p|,
// eps), nz = max(|z|, eps), cos = <p, z> / (np nz)):
//   dloss/dp = (-2 z / (np nz) + 2 cos p / np^2) / B   where |p| > eps,
//   dloss/dp = (-2 z / (eps nz)) / B                    otherwise (np is the constant eps).
namespace cpu {

void byol_cosine_loss(const Tensor& p, const Tensor& z, Tensor* loss, Tensor* dp, double g, double eps) {
  dispatch_cpu_float(p.dtype(), "byol_cosine_loss", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t B = p.dim(0), D = p.dim(1);
    const T* pp = p.data<T>();
    const T* pz = z.data<T>();
    const double scale = g / static_cast<double>(B);
    double total = 0.0;
    for (int64_t i = 0; i < B; ++i) {
      const T* p_row = pp + i * D;
      const T* z_row = pz + i * D;
      double p2 = 0.0, z2 = 0.0, dot = 0.0;
      for (int64_t d = 0; d < D; ++d) {
        const double pv = static_cast<double>(p_row[d]), zv = static_cast<double>(z_row[d]);
        p2 += pv * pv;
        z2 += zv * zv;
        dot += pv * zv;
      }
      const double norm_p = std::sqrt(p2);
      const double np = std::max(norm_p, eps), nz = std::max(std::sqrt(z2), eps);
      const double cos = dot / (np * nz);
      total += 2.0 - 2.0 * cos;
      if (dp == nullptr) continue;
      const double a = -2.0 * scale / (np * nz);
      const double b = norm_p > eps ? 2.0 * scale * cos / (np * np) : 0.0;
      T* out = dp->data<T>() + i * D;
      for (int64_t d = 0; d < D; ++d)
        out[d] = static_cast<T>(a * static_cast<double>(z_row[d]) + b * static_cast<double>(p_row[d]));
    }
    if (loss != nullptr) loss->data<T>()[0] = static_cast<T>(total / static_cast<double>(B));
  });
}

}  // namespace cpu

namespace {

const char* kOp = "byol_cosine_loss";

void check_inputs(const Tensor& p, const Tensor& z, double eps) {
  check::defined(kOp, "p", p);
  check::defined(kOp, "z", z);
  check::floating(kOp, "p", p);
  check::floating(kOp, "z", z);
  check::ndim(kOp, "p", p, 2);
  check::ndim(kOp, "z", z, 2);
  check::same_device(kOp, p, z);
  check::same_dtype(kOp, p, z);
  check::same_shape(kOp, p, z);
  RSD_CHECK(p.numel() > 0, kOp, ": empty inputs p ", p.describe(), " and z ", z.describe());
  RSD_CHECK(eps > 0.0, kOp, ": eps must be positive, got ", eps, " for p ", p.describe());
}

// Losses in fp32 on CUDA whatever the inputs' dtype; the inputs' dtype on the CPU.
DType loss_dtype(const Tensor& p) { return p.is_cuda() ? DType::f32 : p.dtype(); }

// Allocates an undefined output, or checks that a given one matches.
void prepare_output(Tensor& out, const char* name, const Shape& shape, DType dtype, const Tensor& p) {
  if (!out.defined()) {
    out = Tensor::empty(shape, dtype, p.device());
    return;
  }
  RSD_CHECK(out.shape() == shape && out.dtype() == dtype && out.device() == p.device(), kOp, ": output ", name, " ",
            out.describe(), " does not match p ", p.describe(), " (expected ", dtype_name(dtype), shape_str(shape),
            "@", p.device().str(), ")");
}

// Dispatches to a backend: writes loss and/or dp (null: not wanted); g is the upstream gradient
// of dp, a one-element tensor of the loss's dtype on p's device (undefined: 1).
void run(const Tensor& p, const Tensor& z, Tensor* loss, Tensor* dp, const Tensor& g, double eps, LossKernel kernel) {
  if (p.is_cuda()) {
    RSD_CUDA_CALL(cuda::byol_cosine_loss(p, z, loss, dp, g.defined() ? &g : nullptr, eps, kernel));
  } else {
    static_cast<void>(kernel);  // one CPU implementation
    cpu::byol_cosine_loss(p, z, loss, dp, g.defined() ? g.item() : 1.0, eps);
  }
}

}  // namespace

Tensor byol_cosine_loss(const Tensor& p, const Tensor& z, double eps, LossKernel kernel) {
  check_inputs(p, z, eps);
  Tensor loss = Tensor::empty({1}, loss_dtype(p), p.device());
  run(p, z, &loss, nullptr, Tensor(), eps, kernel);
  // Only p is differentiated: z is the target network's output.
  if (needs_grad({p})) {
    record(kOp, {loss}, [p, z, loss, eps, kernel] {
      Tensor dp = Tensor::empty(p.shape(), p.dtype(), p.device());
      run(p, z, nullptr, &dp, loss.grad(), eps, kernel);
      accumulate_grad(p, dp);
    });
  }
  return loss;
}

void byol_cosine_loss_forward_backward(const Tensor& p, const Tensor& z, Tensor& loss, Tensor& dp, double eps,
                                       LossKernel kernel) {
  check_inputs(p, z, eps);
  prepare_output(loss, "loss", {1}, loss_dtype(p), p);
  prepare_output(dp, "dp", p.shape(), p.dtype(), p);
  const auto& dp_storage = dp.impl()->storage;
  RSD_CHECK(dp_storage != p.impl()->storage && dp_storage != z.impl()->storage, kOp, ": output dp ", dp.describe(),
            " shares memory with an input (p ", p.describe(), ", z ", z.describe(), ")");
  run(p, z, &loss, &dp, Tensor(), eps, kernel);
}

}  // namespace rsd
