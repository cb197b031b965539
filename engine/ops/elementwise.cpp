#include "engine/ops/elementwise.h"

#include "engine/ops/elementwise_kernels.h"

namespace rsd {

namespace {

// y = f(x) with the gradient computed from y (relu: gy where y > 0; exp: gy * y) or from x (gelu),
// as F::backward_from says. F names the op and its two kernel tables.
template <typename F>
struct Unary {
  static constexpr const char* name = F::name;
  static constexpr std::array<OpInput, 1> inputs{{{"x"}}};
  struct Attrs {};
  static void check(const TensorList<1>& in, const Attrs&) { check::floating(name, "x", in[0]); }
  static TensorList<1> allocate(const TensorList<1>& in, const Attrs&) { return {empty_like(in[0])}; }
  static void forward(const TensorList<1>& in, TensorList<1>& out, const Attrs&) {
    F::forward(in[0].device(), in[0], out[0]);
  }
  static TensorList<1> backward(const TensorList<1>& in, const TensorList<1>& out, const Tensor& gy, const Attrs&,
                                const std::array<bool, 1>&) {
    Tensor gx = empty_like(in[0]);
    F::backward(gx.device(), F::backward_from_input ? in[0] : out[0], gy, gx);
    return {gx};
  }
};

struct ReluKernels {
  static constexpr const char* name = "relu";
  static constexpr bool backward_from_input = false;
  static constexpr auto forward = RSD_KERNELS_WITH_ONEDNN(relu_forward);
  static constexpr auto backward = RSD_KERNELS_WITH_ONEDNN(relu_backward);
};

struct GeluKernels {
  static constexpr const char* name = "gelu";
  static constexpr bool backward_from_input = true;
  static constexpr auto forward = RSD_KERNELS(gelu_forward);
  static constexpr auto backward = RSD_KERNELS(gelu_backward);
};

struct ExpKernels {
  static constexpr const char* name = "exp";
  static constexpr bool backward_from_input = false;
  static constexpr auto forward = RSD_KERNELS(exp_forward);
  static constexpr auto backward = RSD_KERNELS(exp_backward);
};

constexpr auto kScale = RSD_KERNELS(scale);
constexpr auto kAdd = RSD_KERNELS_WITH_ONEDNN(add);
constexpr auto kAddRelu = RSD_KERNELS_WITH_ONEDNN(add_relu_forward);
constexpr auto kReluBackward = ReluKernels::backward;
constexpr auto kAccumulate = RSD_KERNELS_WITH_ONEDNN(accumulate);

Tensor scaled(const Tensor& x, double s) {
  Tensor y = empty_like(x);
  kScale(x.device(), x, s, y);
  return y;
}

struct Scale {
  static constexpr const char* name = "scale";
  static constexpr std::array<OpInput, 1> inputs{{{"x"}}};
  struct Attrs {
    double s = 1.0;
  };
  static void check(const TensorList<1>& in, const Attrs&) { check::floating(name, "x", in[0]); }
  static TensorList<1> allocate(const TensorList<1>& in, const Attrs&) { return {empty_like(in[0])}; }
  static void forward(const TensorList<1>& in, TensorList<1>& out, const Attrs& a) {
    kScale(in[0].device(), in[0], a.s, out[0]);
  }
  static TensorList<1> backward(const TensorList<1>&, const TensorList<1>&, const Tensor& gy, const Attrs& a,
                                const std::array<bool, 1>&) {
    return {scaled(gy, a.s)};
  }
};

struct Add {
  static constexpr const char* name = "add";
  static constexpr std::array<OpInput, 2> inputs{{{"a"}, {"b"}}};
  struct Attrs {};
  static void check(const TensorList<2>& in, const Attrs&) {
    check::same_dtype(name, in[0], in[1]);
    check::same_shape(name, in[0], in[1]);
    check::floating(name, "a", in[0]);
  }
  static TensorList<1> allocate(const TensorList<2>& in, const Attrs&) { return {empty_like(in[0])}; }
  static void forward(const TensorList<2>& in, TensorList<1>& out, const Attrs&) {
    kAdd(in[0].device(), in[0], in[1], out[0]);
  }
  static TensorList<2> backward(const TensorList<2>&, const TensorList<1>&, const Tensor& gy, const Attrs&,
                                const std::array<bool, 2>&) {
    return {gy, gy};
  }
};

struct AddRelu {
  static constexpr const char* name = "add_relu";
  static constexpr std::array<OpInput, 2> inputs{{{"a"}, {"b"}}};
  struct Attrs {};
  static void check(const TensorList<2>& in, const Attrs&) { Add::check(in, {}); }
  static TensorList<1> allocate(const TensorList<2>& in, const Attrs&) { return {empty_like(in[0])}; }
  static void forward(const TensorList<2>& in, TensorList<1>& out, const Attrs&) {
    kAddRelu(in[0].device(), in[0], in[1], out[0]);
  }
  static TensorList<2> backward(const TensorList<2>&, const TensorList<1>& out, const Tensor& gy, const Attrs&,
                                const std::array<bool, 2>&) {
    Tensor g = empty_like(gy);
    kReluBackward(gy.device(), out[0], gy, g);
    return {g, g};
  }
};

}  // namespace

Tensor relu(const Tensor& x) { return apply<Unary<ReluKernels>>({x})[0]; }

Tensor gelu(const Tensor& x) { return apply<Unary<GeluKernels>>({x})[0]; }

Tensor exp(const Tensor& x) { return apply<Unary<ExpKernels>>({x})[0]; }

Tensor scale(const Tensor& x, double s) { return apply<Scale>({x}, {s})[0]; }

Tensor add(const Tensor& a, const Tensor& b) { return apply<Add>({a, b})[0]; }

Tensor add_relu(const Tensor& a, const Tensor& b) { return apply<AddRelu>({a, b})[0]; }

void accumulate_(Tensor& dst, const Tensor& src) {
  check::same_device("accumulate", dst, src);
  check::same_dtype("accumulate", dst, src);
  check::same_shape("accumulate", dst, src);
  kAccumulate(dst.device(), dst, src);
}

}  // namespace rsd
