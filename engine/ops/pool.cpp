#include "engine/ops/pool.h"

#include <climits>

#include "engine/ops/pool_kernels.h"

namespace rsd {

namespace {

// The kernels index with int: every dimension, and the flat h*W + w of the argmax, must fit.
void check_nhwc(const char* op, const Tensor& x) {
  check::floating(op, "x", x);
  check::ndim(op, "x", x, 4);
  for (int i = 0; i < x.ndim(); ++i)
    RSD_CHECK(x.dim(i) <= INT_MAX, op, ": dimension ", i, " of x ", x.describe(), " exceeds the int range");
  RSD_CHECK(x.dim(1) * x.dim(2) <= INT_MAX, op, ": H*W of x ", x.describe(), " exceeds the int range");
}

struct MaxPool2d {
  static constexpr const char* name = "max_pool2d";
  static constexpr std::array<OpInput, 1> inputs{{{"x"}}};
  struct Attrs {
    int kernel, stride, padding;
  };
  static constexpr auto forward_kernel = RSD_KERNELS_WITH_ONEDNN(max_pool2d_forward);
  static constexpr auto backward_kernel = RSD_KERNELS_WITH_ONEDNN(max_pool2d_backward);

  static void check(const TensorList<1>& in, const Attrs& a) {
    const Tensor& x = in[0];
    check_nhwc(name, x);
    RSD_CHECK(a.kernel >= 1 && a.stride >= 1 && a.padding >= 0, name, ": kernel ", a.kernel, ", stride ", a.stride,
              ", padding ", a.padding, " invalid for x ", x.describe(), " (kernel, stride >= 1, padding >= 0)");
    RSD_CHECK(a.padding <= a.kernel / 2, name, ": padding ", a.padding, " exceeds half the kernel ", a.kernel,
              " for x ", x.describe(), " (a window could lie wholly in padding)");
    RSD_CHECK(x.dim(1) + 2 * a.padding >= a.kernel && x.dim(2) + 2 * a.padding >= a.kernel, name, ": kernel ",
              a.kernel, " larger than x ", x.describe(), " with padding ", a.padding);
  }
  // y, and the argmax the backward routes gradients by.
  static TensorList<2> allocate(const TensorList<1>& in, const Attrs& a) {
    const Tensor& x = in[0];
    const int64_t P = (x.dim(1) + 2 * a.padding - a.kernel) / a.stride + 1;
    const int64_t Q = (x.dim(2) + 2 * a.padding - a.kernel) / a.stride + 1;
    const Shape shape{x.dim(0), P, Q, x.dim(3)};
    return {Tensor::empty(shape, x.dtype(), x.device()), Tensor::empty(shape, DType::i32, x.device())};
  }
  static void forward(const TensorList<1>& in, TensorList<2>& out, const Attrs& a) {
    forward_kernel(in[0].device(), in[0], out[0], out[1], a.kernel, a.stride, a.padding);
  }
  static TensorList<1> backward(const TensorList<1>& in, const TensorList<2>& out, const Tensor& gy, const Attrs& a,
                                const std::array<bool, 1>&) {
    Tensor gx = empty_like(in[0]);
    backward_kernel(gx.device(), gy, out[1], gx, a.kernel, a.stride, a.padding);
    return {gx};
  }
};

struct GlobalAvgPool {
  static constexpr const char* name = "global_avg_pool";
  static constexpr std::array<OpInput, 1> inputs{{{"x"}}};
  struct Attrs {};
  static constexpr auto forward_kernel = RSD_KERNELS_WITH_ONEDNN(global_avg_pool_forward);
  static constexpr auto backward_kernel = RSD_KERNELS_WITH_ONEDNN(global_avg_pool_backward);

  static void check(const TensorList<1>& in, const Attrs&) {
    check_nhwc(name, in[0]);
    RSD_CHECK(in[0].dim(1) * in[0].dim(2) > 0, name, ": x ", in[0].describe(), " has no pixels to average");
  }
  static TensorList<1> allocate(const TensorList<1>& in, const Attrs&) {
    return {Tensor::empty({in[0].dim(0), in[0].dim(3)}, in[0].dtype(), in[0].device())};
  }
  static void forward(const TensorList<1>& in, TensorList<1>& out, const Attrs&) {
    forward_kernel(in[0].device(), in[0], out[0]);
  }
  static TensorList<1> backward(const TensorList<1>& in, const TensorList<1>&, const Tensor& gy, const Attrs&,
                                const std::array<bool, 1>&) {
    Tensor gx = empty_like(in[0]);
    backward_kernel(gx.device(), gy, gx);
    return {gx};
  }
};

}  // namespace

Tensor max_pool2d(const Tensor& x, int kernel, int stride, int padding) {
  return apply<MaxPool2d>({x}, {kernel, stride, padding})[0];
}

Tensor global_avg_pool(const Tensor& x) { return apply<GlobalAvgPool>({x})[0]; }

}  // namespace rsd
