#include "engine/ops/cross_entropy.h"

#include <cstdint>

#include "engine/ops/cross_entropy_kernels.h"

namespace rsd {

namespace {

void check_cross_entropy(const char* op, const Tensor& logits, const Tensor& labels) {
  check::floating(op, "logits", logits);
  check::ndim(op, "logits", logits, 2);
  check::dtype_is(op, "labels", labels, DType::i32);
  check::ndim(op, "labels", labels, 1);
  RSD_CHECK(labels.dim(0) == logits.dim(0), op, ": labels ", labels.describe(), " do not match the rows of logits ",
            logits.describe());
  RSD_CHECK(logits.numel() > 0, op, ": empty logits ", logits.describe());
  RSD_CHECK(logits.dim(1) <= INT32_MAX, op, ": too many classes in logits ", logits.describe());
}

// Labels outside [0, K) would read out of bounds. On CUDA this copies the labels to the host once
// per call (a synchronizing copy of N ints): an accepted cost for a loss evaluated once per step.
void check_label_values(const char* op, const Tensor& logits, const Tensor& labels) {
  const int64_t K = logits.dim(1);
  Tensor host = labels;
  if (labels.is_cuda()) {
    host = Tensor::empty(labels.shape(), DType::i32, Device::cpu());
    host.copy_from(labels);
  }
  const int32_t* values = host.data<int32_t>();
  for (int64_t n = 0; n < host.numel(); ++n)
    RSD_CHECK(values[n] >= 0 && values[n] < K, op, ": label ", values[n], " at row ", n, " is out of range [0, ", K,
              ") for logits ", logits.describe(), " and labels ", labels.describe());
}


struct SoftmaxCrossEntropy {
  static constexpr const char* name = "softmax_cross_entropy";
  static constexpr std::array<OpInput, 2> inputs{{{"logits"}, {"labels", false}}};
  struct Attrs {};
  static constexpr auto forward_kernel = RSD_KERNELS(softmax_cross_entropy_forward);
  static constexpr auto backward_kernel = RSD_KERNELS(softmax_cross_entropy_backward);

  static void check(const TensorList<2>& in, const Attrs&) {
    check_cross_entropy(name, in[0], in[1]);
    check_label_values(name, in[0], in[1]);
  }
  // loss, and the rows' log-sum-exp for the backward. Losses in f32 on CUDA: a bf16 mean over a
  // batch would lose most of its digits.
  static TensorList<2> allocate(const TensorList<2>& in, const Attrs&) {
    const Tensor& logits = in[0];
    const DType stat_dtype = logits.is_cuda() ? DType::f32 : logits.dtype();
    return {Tensor::empty({1}, stat_dtype, logits.device()), Tensor::empty({logits.dim(0)}, stat_dtype, logits.device())};
  }
  static void forward(const TensorList<2>& in, TensorList<2>& out, const Attrs&) {
    forward_kernel(in[0].device(), in[0], in[1], out[1], out[0]);
  }
  static TensorList<2> backward(const TensorList<2>& in, const TensorList<2>& out, const Tensor& gloss, const Attrs&,
                                const std::array<bool, 2>&) {
    Tensor glogits = empty_like(in[0]);
    backward_kernel(glogits.device(), in[0], in[1], out[1], gloss, glogits);
    return {glogits, Tensor()};
  }
};

}  // namespace

Tensor softmax_cross_entropy(const Tensor& logits, const Tensor& labels) {
  return apply<SoftmaxCrossEntropy>({logits, labels})[0];
}

}  // namespace rsd
