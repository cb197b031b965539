// The CPU reference of conv2d (engine/ops/conv2d_kernels.h): im2col per image, then a BLAS GEMM.
#include <algorithm>

#include "engine/cpu/gemm.h"
#include "engine/dispatch.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/conv2d_kernels.h"

namespace rsd {

namespace cpu {

namespace {

// The sizes of one convolution: x (N,H,W,C), w (K,R,S,C), y (N,P,Q,K).
struct ConvGeometry {
  int64_t n, h, w, c, k, r, s, p, q;
  int64_t stride, pad;
  int64_t rows() const { return p * q; }      // output pixels of one image
  int64_t cols() const { return r * s * c; }  // one patch, index (r*S + s)*C + c
};

ConvGeometry conv_geometry(const Tensor& x, const Tensor& w, int stride, int padding) {
  ConvGeometry g{};
  g.n = x.dim(0), g.h = x.dim(1), g.w = x.dim(2), g.c = x.dim(3);
  g.k = w.dim(0), g.r = w.dim(1), g.s = w.dim(2);
  g.p = conv2d_output_size(g.h, g.r, stride, padding);
  g.q = conv2d_output_size(g.w, g.s, stride, padding);
  g.stride = stride;
  g.pad = padding;
  return g;
}

// cols (P*Q, R*S*C): row p*Q + q holds the patch under output pixel (p, q) of one image
// x (H,W,C), zeros where the patch hangs over the padding.
template <typename T>
void im2col(const T* x, T* cols, const ConvGeometry& g) {
  for (int64_t p = 0; p < g.p; ++p) {
    for (int64_t q = 0; q < g.q; ++q) {
      T* row = cols + (p * g.q + q) * g.cols();
      for (int64_t r = 0; r < g.r; ++r) {
        const int64_t hi = p * g.stride - g.pad + r;
        for (int64_t s = 0; s < g.s; ++s) {
          const int64_t wi = q * g.stride - g.pad + s;
          T* dst = row + (r * g.s + s) * g.c;
          const bool inside = hi >= 0 && hi < g.h && wi >= 0 && wi < g.w;
          if (inside) {
            std::copy_n(x + (hi * g.w + wi) * g.c, g.c, dst);
          } else {
            std::fill_n(dst, g.c, T(0));
          }
        }
      }
    }
  }
}

// The adjoint of im2col: dx (H,W,C) += every patch row of dcols at its place.
template <typename T>
void col2im_accumulate(const T* dcols, T* dx, const ConvGeometry& g) {
  for (int64_t p = 0; p < g.p; ++p) {
    for (int64_t q = 0; q < g.q; ++q) {
      const T* row = dcols + (p * g.q + q) * g.cols();
      for (int64_t r = 0; r < g.r; ++r) {
        const int64_t hi = p * g.stride - g.pad + r;
        if (hi < 0 || hi >= g.h) continue;
        for (int64_t s = 0; s < g.s; ++s) {
          const int64_t wi = q * g.stride - g.pad + s;
          if (wi < 0 || wi >= g.w) continue;
          const T* src = row + (r * g.s + s) * g.c;
          T* dst = dx + (hi * g.w + wi) * g.c;
          for (int64_t c = 0; c < g.c; ++c) dst[c] += src[c];
        }
      }
    }
  }
}

}  // namespace

// Per image n: y_n (P*Q, K) = cols_n (P*Q, RSC) w^T (RSC, K).
void conv2d_forward(const Tensor& x, const Tensor& w, Tensor& y, int stride, int padding) {
  const ConvGeometry g = conv_geometry(x, w, stride, padding);
  dispatch_cpu_float(x.dtype(), "conv2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor cols = Tensor::empty({g.rows(), g.cols()}, x.dtype(), x.device());
    for (int64_t n = 0; n < g.n; ++n) {
      im2col(x.data<T>() + n * g.h * g.w * g.c, cols.data<T>(), g);
      gemm<T>(false, true, g.rows(), g.k, g.cols(), T(1), cols.data<T>(), g.cols(), w.data<T>(), g.cols(), T(0),
              y.data<T>() + n * g.rows() * g.k, g.k);
    }
  });
}

// Per image n: dcols (P*Q, RSC) = gy_n (P*Q, K) w (K, RSC), then dx_n = col2im(dcols).
void conv2d_backward_data(const Tensor& gy, const Tensor& w, Tensor& dx, int stride, int padding) {
  const ConvGeometry g = conv_geometry(dx, w, stride, padding);
  dispatch_cpu_float(gy.dtype(), "conv2d backward (data)", [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor dcols = Tensor::empty({g.rows(), g.cols()}, gy.dtype(), gy.device());
    std::fill_n(dx.data<T>(), dx.numel(), T(0));
    for (int64_t n = 0; n < g.n; ++n) {
      gemm<T>(false, false, g.rows(), g.cols(), g.k, T(1), gy.data<T>() + n * g.rows() * g.k, g.k, w.data<T>(),
              g.cols(), T(0), dcols.data<T>(), g.cols());
      col2im_accumulate(dcols.data<T>(), dx.data<T>() + n * g.h * g.w * g.c, g);
    }
  });
}

// dw (K, RSC) = sum over images of gy_n^T (K, P*Q) cols_n (P*Q, RSC).
void conv2d_backward_filter(const Tensor& x, const Tensor& gy, Tensor& dw, int stride, int padding) {
  const ConvGeometry g = conv_geometry(x, dw, stride, padding);
  dispatch_cpu_float(x.dtype(), "conv2d backward (filter)", [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor cols = Tensor::empty({g.rows(), g.cols()}, x.dtype(), x.device());
    std::fill_n(dw.data<T>(), dw.numel(), T(0));
    for (int64_t n = 0; n < g.n; ++n) {
      im2col(x.data<T>() + n * g.h * g.w * g.c, cols.data<T>(), g);
      gemm<T>(true, false, g.k, g.cols(), g.rows(), T(1), gy.data<T>() + n * g.rows() * g.k, g.k, cols.data<T>(),
              g.cols(), T(1), dw.data<T>(), g.cols());
    }
  });
}

}  // namespace cpu

}  // namespace rsd
