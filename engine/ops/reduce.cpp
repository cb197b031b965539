#include "engine/ops/reduce.h"

#include "engine/ops/reduce_kernels.h"

namespace rsd {

namespace {

constexpr auto kScaledSum = RSD_KERNELS(scaled_sum);
constexpr auto kBroadcastScalar = RSD_KERNELS(broadcast_scalar);

// y = scale * sum(x), scale = 1 (sum) or 1 / numel (mean).
template <typename Kind>
struct ScaledSum {
  static constexpr const char* name = Kind::name;
  static constexpr std::array<OpInput, 1> inputs{{{"x"}}};
  struct Attrs {};
  static double scale_of(const Tensor& x) { return Kind::mean ? 1.0 / static_cast<double>(x.numel()) : 1.0; }
  static void check(const TensorList<1>& in, const Attrs&) {
    check::floating(name, "x", in[0]);
    RSD_CHECK(in[0].numel() > 0, name, ": empty input ", in[0].describe());
  }
  static TensorList<1> allocate(const TensorList<1>& in, const Attrs&) {
    return {Tensor::empty({1}, in[0].dtype(), in[0].device())};
  }
  static void forward(const TensorList<1>& in, TensorList<1>& out, const Attrs&) {
    kScaledSum(in[0].device(), in[0], out[0], scale_of(in[0]));
  }
  static TensorList<1> backward(const TensorList<1>& in, const TensorList<1>&, const Tensor& gy, const Attrs&,
                                const std::array<bool, 1>&) {
    Tensor gx = empty_like(in[0]);
    kBroadcastScalar(gx.device(), gy, gx, scale_of(in[0]));
    return {gx};
  }
};

struct SumKind {
  static constexpr const char* name = "sum";
  static constexpr bool mean = false;
};

struct MeanKind {
  static constexpr const char* name = "mean";
  static constexpr bool mean = true;
};

}  // namespace

Tensor sum(const Tensor& x) { return apply<ScaledSum<SumKind>>({x})[0]; }

Tensor mean(const Tensor& x) { return apply<ScaledSum<MeanKind>>({x})[0]; }

}  // namespace rsd
