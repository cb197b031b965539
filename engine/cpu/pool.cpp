// The CPU reference of the pooling ops (engine/ops/pool_kernels.h).
#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/dispatch.h"
#include "engine/ops/pool_kernels.h"

namespace rsd {

// The CPU reference, NHWC like the kernels.
namespace cpu {

// y, argmax: (N, P, Q, C). The first in-bounds element of a window always enters, later ones only
// when strictly larger (or the first NaN), so ties go to the first in row-major window order and
// padding never wins; a window wholly in padding gives -inf and argmax -1. The same rule as the
// CUDA kernel, so both pick the same element even where bf16 rounding makes ties.
void max_pool2d_forward(const Tensor& x, Tensor& y, Tensor& argmax, int kernel, int stride, int padding) {
  dispatch_cpu_float(x.dtype(), "max_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t N = x.dim(0), H = x.dim(1), W = x.dim(2), C = x.dim(3), P = y.dim(1), Q = y.dim(2);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    int32_t* pa = argmax.data<int32_t>();
    // Window positions outside, channels inside: the channel loop reads contiguous memory.
    for (int64_t n = 0; n < N; ++n)
      for (int64_t p = 0; p < P; ++p)
        for (int64_t q = 0; q < Q; ++q) {
          T* best = py + ((n * P + p) * Q + q) * C;
          int32_t* best_idx = pa + ((n * P + p) * Q + q) * C;
          std::fill_n(best, C, -std::numeric_limits<T>::infinity());
          std::fill_n(best_idx, C, -1);
          for (int64_t h = std::max<int64_t>(p * stride - padding, 0); h < std::min(p * stride - padding + kernel, H); ++h)
            for (int64_t w = std::max<int64_t>(q * stride - padding, 0); w < std::min(q * stride - padding + kernel, W);
                 ++w) {
              const T* row = px + ((n * H + h) * W + w) * C;
              const int32_t here = static_cast<int32_t>(h * W + w);
              for (int64_t c = 0; c < C; ++c) {
                // Selects, not a branch: random data would mispredict it half the time.
                const T v = row[c], b = best[c];
                const bool take = (best_idx[c] < 0) | (v > b) | ((v != v) & (b == b));  // v != v: NaN
                best[c] = take ? v : b;
                best_idx[c] = take ? here : best_idx[c];
              }
            }
        }
  });
}

// gx: (N, H, W, C) = the sum of gy over the windows whose argmax is that element.
void max_pool2d_backward(const Tensor& gy, const Tensor& argmax, Tensor& gx, int kernel, int stride, int padding) {
  dispatch_cpu_float(gy.dtype(), "max_pool2d backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t N = gy.dim(0), P = gy.dim(1), Q = gy.dim(2), C = gy.dim(3), HW = gx.dim(1) * gx.dim(2);
    const T* pg = gy.data<T>();
    const int32_t* pa = argmax.data<int32_t>();
    T* out = gx.data<T>();
    for (int64_t i = 0, n_gx = gx.numel(); i < n_gx; ++i) out[i] = T(0);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t pq = 0; pq < P * Q; ++pq)
        for (int64_t c = 0; c < C; ++c) {
          const int64_t o = (n * P * Q + pq) * C + c;
          if (pa[o] >= 0) out[(n * HW + pa[o]) * C + c] += pg[o];
        }
  });
}

// x: (N, HW, C) -> y: (N, C), summed in double.
void global_avg_pool_forward(const Tensor& x, Tensor& y) {
  dispatch_cpu_float(x.dtype(), "global_avg_pool", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t N = x.dim(0), HW = x.dim(1) * x.dim(2), C = x.dim(3);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c) {
        double s = 0.0;
        for (int64_t i = 0; i < HW; ++i) s += static_cast<double>(px[(n * HW + i) * C + c]);
        py[n * C + c] = static_cast<T>(s / static_cast<double>(HW));
      }
  });
}

// gx[n, i, c] = gy[n, c] / HW.
void global_avg_pool_backward(const Tensor& gy, Tensor& gx) {
  dispatch_cpu_float(gy.dtype(), "global_avg_pool backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t N = gx.dim(0), HW = gx.dim(1) * gx.dim(2), C = gx.dim(3);
    const T* pg = gy.data<T>();
    T* out = gx.data<T>();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < HW; ++i)
        for (int64_t c = 0; c < C; ++c)
          out[(n * HW + i) * C + c] = static_cast<T>(static_cast<double>(pg[n * C + c]) / static_cast<double>(HW));
  });
}

}  // namespace cpu

}  // namespace rsd
