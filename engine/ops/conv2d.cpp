#include "engine/ops/conv2d.h"

#include "engine/ops/conv2d_kernels.h"

namespace rsd {

int64_t conv2d_output_size(int64_t in, int64_t kernel, int stride, int padding) {
  const int64_t span = in + 2 * static_cast<int64_t>(padding) - kernel;
  if (span < 0 || stride < 1) return 0;
  return span / stride + 1;
}

namespace {

struct Conv2d {
  static constexpr const char* name = "conv2d";
  static constexpr std::array<OpInput, 2> inputs{{{"x"}, {"w"}}};
  struct Attrs {
    int stride, padding;
  };
  static constexpr auto forward_kernel = RSD_KERNELS_WITH_ONEDNN(conv2d_forward);
  static constexpr auto data_grad_kernel = RSD_KERNELS_WITH_ONEDNN(conv2d_backward_data);
  static constexpr auto filter_grad_kernel = RSD_KERNELS_WITH_ONEDNN(conv2d_backward_filter);

  static void check(const TensorList<2>& in, const Attrs& a) {
    const Tensor &x = in[0], &w = in[1];
    check::ndim(name, "x (N, H, W, C)", x, 4);
    check::ndim(name, "w (K, R, S, C)", w, 4);
    check::same_dtype(name, x, w);
    check::floating(name, "x", x);
    RSD_CHECK(x.dim(3) == w.dim(3), "conv2d: x ", x.describe(), " and w ", w.describe(), " differ in channels (",
              x.dim(3), " vs ", w.dim(3), ")");
    RSD_CHECK(a.stride >= 1 && a.padding >= 0, "conv2d: stride ", a.stride, " must be >= 1 and padding ", a.padding,
              " >= 0 (x ", x.describe(), ", w ", w.describe(), ")");
    const int64_t p = conv2d_output_size(x.dim(1), w.dim(1), a.stride, a.padding);
    const int64_t q = conv2d_output_size(x.dim(2), w.dim(2), a.stride, a.padding);
    RSD_CHECK(p >= 1 && q >= 1, "conv2d: kernel of w ", w.describe(), " does not fit x ", x.describe(),
              " with padding ", a.padding, " (output ", p, "x", q, ")");
  }
  // y: (N, P, Q, K).
  static TensorList<1> allocate(const TensorList<2>& in, const Attrs& a) {
    const Tensor &x = in[0], &w = in[1];
    const Shape shape{x.dim(0), conv2d_output_size(x.dim(1), w.dim(1), a.stride, a.padding),
                      conv2d_output_size(x.dim(2), w.dim(2), a.stride, a.padding), w.dim(0)};
    return {Tensor::empty(shape, x.dtype(), x.device())};
  }
  static void forward(const TensorList<2>& in, TensorList<1>& out, const Attrs& a) {
    forward_kernel(in[0].device(), in[0], in[1], out[0], a.stride, a.padding);
  }
  static TensorList<2> backward(const TensorList<2>& in, const TensorList<1>&, const Tensor& gy, const Attrs& a,
                                const std::array<bool, 2>& wanted) {
    const Tensor &x = in[0], &w = in[1];
    TensorList<2> grads;
    if (wanted[0]) data_grad_kernel(gy.device(), gy, w, grads[0] = empty_like(x), a.stride, a.padding);
    if (wanted[1]) filter_grad_kernel(gy.device(), x, gy, grads[1] = empty_like(w), a.stride, a.padding);
    return grads;
  }
};

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, int stride, int padding) {
  return apply<Conv2d>({x, w}, {stride, padding})[0];
}

}  // namespace rsd
