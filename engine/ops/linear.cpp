#include "engine/ops/linear.h"

#include "engine/ops/linear_kernels.h"

namespace rsd {

namespace {

struct Linear {
  static constexpr const char* name = "linear";
  static constexpr std::array<OpInput, 3> inputs{{{"x"}, {"w"}, {"b", true, true}}};
  struct Attrs {};
  static constexpr auto forward_kernel = RSD_KERNELS_WITH_ONEDNN(linear_forward);
  static constexpr auto input_grad_kernel = RSD_KERNELS_WITH_ONEDNN(linear_backward_input);
  static constexpr auto weight_grad_kernel = RSD_KERNELS_WITH_ONEDNN(linear_backward_weight);
  static constexpr auto bias_grad_kernel = RSD_KERNELS(linear_backward_bias);

  static void check(const TensorList<3>& in, const Attrs&) {
    const Tensor &x = in[0], &w = in[1], &b = in[2];
    check::ndim(name, "x (N, in)", x, 2);
    check::ndim(name, "w (out, in)", w, 2);
    check::same_dtype(name, x, w);
    check::floating(name, "x", x);
    RSD_CHECK(x.dim(1) == w.dim(1), "linear: x ", x.describe(), " and w ", w.describe(),
              " differ in input features (", x.dim(1), " vs ", w.dim(1), ")");
    if (!b.defined()) return;
    check::ndim(name, "b (out)", b, 1);
    check::same_dtype(name, w, b);
    RSD_CHECK(b.dim(0) == w.dim(0), "linear: b ", b.describe(), " does not match the ", w.dim(0),
              " outputs of w ", w.describe());
  }
  static TensorList<1> allocate(const TensorList<3>& in, const Attrs&) {
    return {Tensor::empty({in[0].dim(0), in[1].dim(0)}, in[0].dtype(), in[0].device())};
  }
  static void forward(const TensorList<3>& in, TensorList<1>& out, const Attrs&) {
    forward_kernel(in[0].device(), in[0], in[1], in[2], out[0]);
  }
  static TensorList<3> backward(const TensorList<3>& in, const TensorList<1>&, const Tensor& gy, const Attrs&,
                                const std::array<bool, 3>& wanted) {
    const Tensor &x = in[0], &w = in[1], &b = in[2];
    TensorList<3> grads;
    if (wanted[0]) input_grad_kernel(gy.device(), gy, w, grads[0] = empty_like(x));
    if (wanted[1]) weight_grad_kernel(gy.device(), gy, x, grads[1] = empty_like(w));
    if (wanted[2]) bias_grad_kernel(gy.device(), gy, grads[2] = empty_like(b));
    return grads;
  }
};

}  // namespace

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) { return apply<Linear>({x, w, b})[0]; }

}  // namespace rsd
