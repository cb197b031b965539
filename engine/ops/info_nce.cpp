#include "engine/ops/info_nce.h"

#include <cmath>
#include <string>

#include "engine/ops/info_nce_kernels.h"

namespace rsd {

namespace {

constexpr const char* kOp = "info_nce_loss";

std::string describe_all(const Tensor& a, const Tensor& b, const Tensor& tau) {
  return str_cat("a ", a.describe(), ", b ", b.describe(), ", tau ", tau.describe());
}

void check_dtypes(const Tensor& a, const Tensor& b, const Tensor& tau) {
  check::floating(kOp, "a", a);
  check::same_dtype(kOp, a, b);
  if (a.is_cuda()) {
    RSD_CHECK(a.dtype() == DType::f32 || a.dtype() == DType::bf16, kOp, ": a and b must be f32 or bf16 on CUDA, got ",
              describe_all(a, b, tau));
    RSD_CHECK(tau.dtype() == DType::f32, kOp, ": tau must be f32 on CUDA, got ", describe_all(a, b, tau));
  } else {
    RSD_CHECK(a.dtype() == DType::f32 || a.dtype() == DType::f64, kOp,
              ": a and b must be f32 or f64 on the CPU (cast first), got ", describe_all(a, b, tau));
    RSD_CHECK(tau.dtype() == DType::f32 || tau.dtype() == a.dtype(), kOp, ": tau must be f32 or a's dtype, got ",
              describe_all(a, b, tau));
  }
}

// Beyond the common checks of apply (defined, one device).
void check_info_nce(const Tensor& a, const Tensor& b, const Tensor& tau, int64_t offset, const InfoNceOptions& opt) {
  check::ndim(kOp, "a", a, 2);
  check::ndim(kOp, "b", b, 2);
  check_dtypes(a, b, tau);
  RSD_CHECK(a.dim(1) == b.dim(1), kOp, ": a and b differ in D (", a.dim(1), " vs ", b.dim(1), "): ",
            describe_all(a, b, tau));
  RSD_CHECK(a.dim(0) > 0 && a.dim(1) > 0, kOp, ": a needs at least one row and one column: ", describe_all(a, b, tau));
  RSD_CHECK(offset >= 0 && offset <= b.dim(0) - a.dim(0), kOp, ": offset ", offset,
            " out of range: the positives b[offset, offset + N) must lie in b (0 <= offset, offset + N <= M) for ",
            describe_all(a, b, tau));
  RSD_CHECK(tau.numel() == 1, kOp, ": tau must have one element: ", describe_all(a, b, tau));
  RSD_CHECK(opt.eps > 0.0, kOp, ": eps must be positive, got ", opt.eps, " for ", describe_all(a, b, tau));
  // The value is checked where reading it is free (the host). On a GPU that read would be a host
  // round trip in every step; there tau comes from models::Temperature (a validated constant, or
  // exp of a learnable log, positive by construction), and a non-finite one makes the loss
  // non-finite, which the training step's guard catches.
  if (!tau.is_cuda()) {
    const double t = tau.item();
    RSD_CHECK(t > 0.0 && std::isfinite(t), kOp, ": tau must be positive and finite, got ", t, " for ",
              describe_all(a, b, tau));
  }
}


constexpr auto kForward = RSD_KERNELS_WITH_ONEDNN(info_nce_forward);
constexpr auto kBackward = RSD_KERNELS_WITH_ONEDNN(info_nce_backward);

InfoNceGrads backward_of(const InfoNceContext& ctx, const Tensor& gloss) {
  RSD_CHECK(gloss.defined() && gloss.numel() == 1 && gloss.device() == ctx.loss.device() &&
                gloss.dtype() == ctx.loss.dtype(),
            kOp, " backward: the loss gradient must be one ", dtype_name(ctx.loss.dtype()), " element on ",
            ctx.loss.device().str(), ", got ", gloss.defined() ? gloss.describe() : std::string("undefined"),
            " for ", describe_all(ctx.a, ctx.b, ctx.tau));
  InfoNceGrads grads;
  grads.da = empty_like(ctx.a);
  grads.db = empty_like(ctx.b);
  grads.dtau = empty_like(ctx.tau);
  kBackward(ctx.a.device(), ctx, gloss, grads);
  return grads;
}

// Its outputs are the context: the loss (the result) and what the backward reads.
struct InfoNce {
  static constexpr const char* name = kOp;
  static constexpr std::array<OpInput, 3> inputs{{{"a"}, {"b"}, {"tau"}}};
  struct Attrs {
    int64_t offset;
    InfoNceOptions opt;
  };
  static void check(const TensorList<3>& in, const Attrs& at) { check_info_nce(in[0], in[1], in[2], at.offset, at.opt); }
  static InfoNceContext allocate(const TensorList<3>& in, const Attrs& at) {
    InfoNceContext ctx;
    ctx.a = in[0];
    ctx.b = in[1];
    ctx.tau = in[2];
    ctx.offset = at.offset;
    ctx.opt = at.opt;
    return ctx;
  }
  static void forward(const TensorList<3>& in, InfoNceContext& ctx, const Attrs&) { kForward(in[0].device(), ctx); }
  static TensorList<3> backward(const TensorList<3>&, const InfoNceContext& ctx, const Tensor& gloss, const Attrs&,
                                const std::array<bool, 3>&) {
    const InfoNceGrads grads = backward_of(ctx, gloss);
    return {grads.da, grads.db, grads.dtau};
  }
};

}  // namespace

// Found by apply (argument-dependent lookup): the loss is the result.
static const Tensor& op_result(const InfoNceContext& ctx) { return ctx.loss; }

InfoNceContext info_nce_forward(const Tensor& a, const Tensor& b, const Tensor& tau, int64_t offset,
                                const InfoNceOptions& opt) {
  const NoGradScope no_tape;
  return apply<InfoNce>({a, b, tau}, {offset, opt});
}

InfoNceGrads info_nce_backward(const InfoNceContext& ctx, const Tensor& gloss) { return backward_of(ctx, gloss); }

Tensor info_nce_loss(const Tensor& a, const Tensor& b, const Tensor& tau, int64_t offset, const InfoNceOptions& opt) {
  return apply<InfoNce>({a, b, tau}, {offset, opt}).loss;
}

}  // namespace rsd
