#include "engine/ops/l2norm.h"

#include "engine/ops/l2norm_kernels.h"

namespace rsd {

namespace {

struct L2Normalize {
  static constexpr const char* name = "l2_normalize";
  static constexpr std::array<OpInput, 1> inputs{{{"x"}}};
  struct Attrs {
    double eps;
  };
  static constexpr auto forward_kernel = RSD_KERNELS(l2_normalize_forward);
  static constexpr auto backward_kernel = RSD_KERNELS(l2_normalize_backward);

  static void check(const TensorList<1>& in, const Attrs& a) {
    check::floating(name, "x", in[0]);
    check::ndim(name, "x", in[0], 2);
    RSD_CHECK(a.eps > 0.0, name, ": eps must be positive, got ", a.eps, " for x ", in[0].describe());
  }
  // y, and the row norms the backward reads.
  static TensorList<2> allocate(const TensorList<1>& in, const Attrs&) {
    const Tensor& x = in[0];
    return {empty_like(x), Tensor::empty({x.dim(0)}, x.is_cuda() ? DType::f32 : x.dtype(), x.device())};
  }
  static void forward(const TensorList<1>& in, TensorList<2>& out, const Attrs& a) {
    forward_kernel(in[0].device(), in[0], out[0], out[1], a.eps);
  }
  static TensorList<1> backward(const TensorList<1>& in, const TensorList<2>& out, const Tensor& gy, const Attrs& a,
                                const std::array<bool, 1>&) {
    Tensor gx = empty_like(in[0]);
    backward_kernel(gx.device(), gy, out[0], out[1], gx, a.eps);
    return {gx};
  }
};

}  // namespace

Tensor l2_normalize(const Tensor& x, double eps) { return apply<L2Normalize>({x}, {eps})[0]; }

}  // namespace rsd
