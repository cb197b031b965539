// The CPU reference of softmax_cross_entropy (engine/ops/cross_entropy_kernels.h).
#include <algorithm>
#include <cmath>

#include "engine/dispatch.h"
#include "engine/ops/cross_entropy_kernels.h"

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

}  // namespace rsd
