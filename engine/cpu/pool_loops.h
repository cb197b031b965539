// The loops of the pooling kernels, one image (or one output row) at a time, shared by the
// reference (engine/cpu/pool.cpp, serial) and the fast CPU backend (engine/onednn/pool.cpp, the
// same loops on the OpenMP pool), so both compute bit-identical results. NHWC throughout.
#pragma once
#include <algorithm>
#include <cstdint>
#include <limits>

namespace rsd::cpu {

struct PoolShape {
  int64_t N, H, W, C, P, Q;  // x (N, H, W, C), y (N, P, Q, C)
  int kernel, stride, padding;
};

// Output row p of image n: y, argmax (N, P, Q, C). The first in-bounds element of a window always
// enters, later ones only when strictly larger (or the first NaN), so ties go to the first in
// row-major window order and padding never wins; a window wholly in padding gives -inf and argmax
// -1. The same rule as the CUDA kernel, so both pick the same element even where bf16 rounding
// makes ties.
template <typename T>
void max_pool_row(const T* x, T* y, int32_t* argmax, const PoolShape& s, int64_t n, int64_t p) {
  const int64_t h0 = std::max<int64_t>(p * s.stride - s.padding, 0);
  const int64_t h1 = std::min<int64_t>(p * s.stride - s.padding + s.kernel, s.H);
  for (int64_t q = 0; q < s.Q; ++q) {
    T* best = y + ((n * s.P + p) * s.Q + q) * s.C;
    int32_t* best_idx = argmax + ((n * s.P + p) * s.Q + q) * s.C;
    std::fill_n(best, s.C, -std::numeric_limits<T>::infinity());
    std::fill_n(best_idx, s.C, -1);
    const int64_t w0 = std::max<int64_t>(q * s.stride - s.padding, 0);
    const int64_t w1 = std::min<int64_t>(q * s.stride - s.padding + s.kernel, s.W);
    for (int64_t h = h0; h < h1; ++h)
      for (int64_t w = w0; w < w1; ++w) {
        // Window positions outside, channels inside: the channel loop reads contiguous memory.
        const T* row = x + ((n * s.H + h) * s.W + w) * s.C;
        const int32_t here = static_cast<int32_t>(h * s.W + w);
        for (int64_t c = 0; c < s.C; ++c) {
          // Selects, not a branch: random data would mispredict it half the time.
          const T v = row[c], b = best[c];
          const bool take = (best_idx[c] < 0) | (v > b) | ((v != v) & (b == b));  // v != v: NaN
          best[c] = take ? v : b;
          best_idx[c] = take ? here : best_idx[c];
        }
      }
  }
}

// Image n of gx (N, H, W, C) = the sum of gy over the windows whose argmax is that element.
template <typename T>
void max_pool_backward_image(const T* gy, const int32_t* argmax, T* gx, const PoolShape& s, int64_t n) {
  const int64_t HW = s.H * s.W;
  std::fill_n(gx + n * HW * s.C, HW * s.C, T(0));
  for (int64_t pq = 0; pq < s.P * s.Q; ++pq)
    for (int64_t c = 0; c < s.C; ++c) {
      const int64_t o = (n * s.P * s.Q + pq) * s.C + c;
      if (argmax[o] >= 0) gx[(n * HW + argmax[o]) * s.C + c] += gy[o];
    }
}

// Image n: x (N, HW, C) -> y (N, C), the mean over HW, summed in double.
template <typename T>
void avg_pool_image(const T* x, T* y, int64_t HW, int64_t C, int64_t n) {
  for (int64_t c = 0; c < C; ++c) {
    double s = 0.0;
    for (int64_t i = 0; i < HW; ++i) s += static_cast<double>(x[(n * HW + i) * C + c]);
    y[n * C + c] = static_cast<T>(s / static_cast<double>(HW));
  }
}

// Image n: gx[n, i, c] = gy[n, c] / HW.
template <typename T>
void avg_pool_backward_image(const T* gy, T* gx, int64_t HW, int64_t C, int64_t n) {
  for (int64_t i = 0; i < HW; ++i)
    for (int64_t c = 0; c < C; ++c)
      gx[(n * HW + i) * C + c] = static_cast<T>(static_cast<double>(gy[n * C + c]) / static_cast<double>(HW));
}

}  // namespace rsd::cpu
