#include "engine/ops/cross_entropy.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/dispatch.h"
#include "engine/ops/checks.h"

#if RSD_HAVE_CUDA
#include "engine/cuda/cross_entropy.h"
#endif

namespace rsd {

// The CPU reference: logits (N, K), labels i32 (N), row_lse (N) and loss {1} of the logits' dtype.
// Log-sum-exp subtracts the row maximum; sums run in double.
namespace cpu {

void softmax_cross_entropy_forward(const Tensor& logits, const Tensor& labels, Tensor& row_lse, Tensor& loss) {
  dispatch_cpu_float(logits.dtype(), "softmax_cross_entropy", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t N = logits.dim(0), K = logits.dim(1);
    const T* pl = logits.data<T>();
    const int32_t* lab = labels.data<int32_t>();
    T* lse_out = row_lse.data<T>();
    double total = 0.0;
    for (int64_t n = 0; n < N; ++n) {
      const T* row = pl + n * K;
      const double mx = static_cast<double>(*std::max_element(row, row + K));
      double s = 0.0;
      for (int64_t k = 0; k < K; ++k) s += std::exp(static_cast<double>(row[k]) - mx);
      const double lse = mx + std::log(s);
      lse_out[n] = static_cast<T>(lse);
      total += lse - static_cast<double>(row[lab[n]]);
    }
    loss.data<T>()[0] = static_cast<T>(total / static_cast<double>(N));
  });
}

// glogits[n, k] = (exp(logits[n, k] - lse[n]) - [k == label[n]]) * g / N.
void softmax_cross_entropy_backward(const Tensor& logits, const Tensor& labels, const Tensor& row_lse,
                                    const Tensor& gloss, Tensor& glogits) {
  dispatch_cpu_float(logits.dtype(), "softmax_cross_entropy backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t N = logits.dim(0), K = logits.dim(1);
    const T* pl = logits.data<T>();
    const int32_t* lab = labels.data<int32_t>();
    const T* lse = row_lse.data<T>();
    const double scale = static_cast<double>(gloss.data<T>()[0]) / static_cast<double>(N);
    T* out = glogits.data<T>();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) {
        const double p = std::exp(static_cast<double>(pl[n * K + k]) - static_cast<double>(lse[n]));
        out[n * K + k] = static_cast<T>((p - (k == lab[n] ? 1.0 : 0.0)) * scale);
      }
  });
}

}  // namespace cpu

namespace {

void check_cross_entropy(const char* op, const Tensor& logits, const Tensor& labels) {
  check::defined(op, "logits", logits);
  check::defined(op, "labels", labels);
  check::floating(op, "logits", logits);
  check::ndim(op, "logits", logits, 2);
  check::dtype_is(op, "labels", labels, DType::i32);
  check::ndim(op, "labels", labels, 1);
  check::same_device(op, logits, labels);
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

}  // namespace

Tensor softmax_cross_entropy(const Tensor& logits, const Tensor& labels) {
  const char* op = "softmax_cross_entropy";
  check_cross_entropy(op, logits, labels);
  check_label_values(op, logits, labels);
  // Losses in fp32 on CUDA: a bf16 mean over a batch would lose most of its digits.
  const DType stat_dtype = logits.is_cuda() ? DType::f32 : logits.dtype();
  Tensor loss = Tensor::empty({1}, stat_dtype, logits.device());
  Tensor row_lse = Tensor::empty({logits.dim(0)}, stat_dtype, logits.device());
  if (logits.is_cuda()) {
    RSD_CUDA_CALL(cuda::softmax_cross_entropy_forward(logits, labels, row_lse, loss));
  } else {
    cpu::softmax_cross_entropy_forward(logits, labels, row_lse, loss);
  }
  if (needs_grad({logits})) {
    record(op, {loss}, [logits, labels, row_lse, loss] {
      Tensor glogits = Tensor::empty(logits.shape(), logits.dtype(), logits.device());
      if (logits.is_cuda()) {
        RSD_CUDA_CALL(cuda::softmax_cross_entropy_backward(logits, labels, row_lse, loss.grad(), glogits));
      } else {
        cpu::softmax_cross_entropy_backward(logits, labels, row_lse, loss.grad(), glogits);
      }
      accumulate_grad(logits, glogits);
    });
  }
  return loss;
}

}  // namespace rsd
