#include "engine/ops/cosine_loss.h"

#include "engine/ops/cosine_loss_kernels.h"

namespace rsd {

namespace {

constexpr auto kCosineLoss = RSD_KERNELS_WITH_ONEDNN(byol_cosine_loss);

void check_inputs(const char* op, const Tensor& p, const Tensor& z, double eps) {
  check::floating(op, "p", p);
  check::floating(op, "z", z);
  check::ndim(op, "p", p, 2);
  check::ndim(op, "z", z, 2);
  check::same_dtype(op, p, z);
  check::same_shape(op, p, z);
  RSD_CHECK(p.numel() > 0, op, ": empty inputs p ", p.describe(), " and z ", z.describe());
  RSD_CHECK(eps > 0.0, op, ": eps must be positive, got ", eps, " for p ", p.describe());
}

// Losses in fp32 on CUDA whatever the inputs' dtype; the inputs' dtype on the CPU.
DType loss_dtype(const Tensor& p) { return p.is_cuda() ? DType::f32 : p.dtype(); }

// Only p is differentiated: z is the target network's output.
struct ByolCosineLoss {
  static constexpr const char* name = "byol_cosine_loss";
  static constexpr std::array<OpInput, 2> inputs{{{"p"}, {"z", false}}};
  struct Attrs {
    double eps;
    Variant variant;
  };
  static void check(const TensorList<2>& in, const Attrs& a) { check_inputs(name, in[0], in[1], a.eps); }
  static TensorList<1> allocate(const TensorList<2>& in, const Attrs&) {
    return {Tensor::empty({1}, loss_dtype(in[0]), in[0].device())};
  }
  static void forward(const TensorList<2>& in, TensorList<1>& out, const Attrs& a) {
    kCosineLoss(in[0].device(), in[0], in[1], &out[0], nullptr, nullptr, a.eps, a.variant);
  }
  static TensorList<2> backward(const TensorList<2>& in, const TensorList<1>&, const Tensor& gloss, const Attrs& a,
                                const std::array<bool, 2>&) {
    Tensor dp = empty_like(in[0]);
    kCosineLoss(dp.device(), in[0], in[1], nullptr, &dp, &gloss, a.eps, a.variant);
    return {dp, Tensor()};
  }
};

// Allocates an undefined output, or checks that a given one matches.
void prepare_output(Tensor& out, const char* name, const Shape& shape, DType dtype, const Tensor& p) {
  if (!out.defined()) {
    out = Tensor::empty(shape, dtype, p.device());
    return;
  }
  RSD_CHECK(out.shape() == shape && out.dtype() == dtype && out.device() == p.device(), ByolCosineLoss::name,
            ": output ", name, " ", out.describe(), " does not match p ", p.describe(), " (expected ", dtype_name(dtype),
            shape_str(shape), "@", p.device().str(), ")");
}

}  // namespace

Tensor byol_cosine_loss(const Tensor& p, const Tensor& z, double eps, Variant variant) {
  return apply<ByolCosineLoss>({p, z}, {eps, variant})[0];
}

void byol_cosine_loss_forward_backward(const Tensor& p, const Tensor& z, Tensor& loss, Tensor& dp, double eps,
                                       Variant variant) {
  const char* op = ByolCosineLoss::name;
  check::defined(op, "p", p);
  check::defined(op, "z", z);
  check::same_device(op, p, z);
  check_inputs(op, p, z, eps);
  prepare_output(loss, "loss", {1}, loss_dtype(p), p);
  prepare_output(dp, "dp", p.shape(), p.dtype(), p);
  const auto& dp_storage = dp.impl()->storage;
  RSD_CHECK(dp_storage != p.impl()->storage && dp_storage != z.impl()->storage, op, ": output dp ", dp.describe(),
            " shares memory with an input (p ", p.describe(), ", z ", z.describe(), ")");
  kCosineLoss(p.device(), p, z, &loss, &dp, nullptr, eps, variant);
}

}  // namespace rsd
