#include "engine/ops/conv2d.h"

#include <algorithm>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/cpu/gemm.h"
#include "engine/dispatch.h"
#include "engine/ops/checks.h"

#if RSD_HAVE_CUDA
#include "engine/cuda/conv2d.h"
#endif

namespace rsd {

int64_t conv2d_output_size(int64_t in, int64_t kernel, int stride, int padding) {
  const int64_t span = in + 2 * static_cast<int64_t>(padding) - kernel;
  if (span < 0 || stride < 1) return 0;
  return span / stride + 1;
}

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
void conv2d_forward(const Tensor& x, const Tensor& w, Tensor& y, const ConvGeometry& g) {
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
void conv2d_backward_data(const Tensor& gy, const Tensor& w, Tensor& dx, const ConvGeometry& g) {
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
void conv2d_backward_filter(const Tensor& x, const Tensor& gy, Tensor& dw, const ConvGeometry& g) {
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

namespace {

void check_conv2d_args(const Tensor& x, const Tensor& w, int stride, int padding) {
  check::defined("conv2d", "x", x);
  check::defined("conv2d", "w", w);
  check::ndim("conv2d", "x (N, H, W, C)", x, 4);
  check::ndim("conv2d", "w (K, R, S, C)", w, 4);
  check::same_device("conv2d", x, w);
  check::same_dtype("conv2d", x, w);
  check::floating("conv2d", "x", x);
  RSD_CHECK(x.dim(3) == w.dim(3), "conv2d: x ", x.describe(), " and w ", w.describe(), " differ in channels (",
            x.dim(3), " vs ", w.dim(3), ")");
  RSD_CHECK(stride >= 1 && padding >= 0, "conv2d: stride ", stride, " must be >= 1 and padding ", padding,
            " >= 0 (x ", x.describe(), ", w ", w.describe(), ")");
  const int64_t p = conv2d_output_size(x.dim(1), w.dim(1), stride, padding);
  const int64_t q = conv2d_output_size(x.dim(2), w.dim(2), stride, padding);
  RSD_CHECK(p >= 1 && q >= 1, "conv2d: kernel of w ", w.describe(), " does not fit x ", x.describe(),
            " with padding ", padding, " (output ", p, "x", q, ")");
}

void conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& gy, int stride, int padding) {
  const cpu::ConvGeometry g = cpu::conv_geometry(x, w, stride, padding);
  if (x.requires_grad()) {
    Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
    if (x.is_cuda()) {
      RSD_CUDA_CALL(cuda::conv2d_backward_data(gy, w, dx, stride, padding));
    } else {
      cpu::conv2d_backward_data(gy, w, dx, g);
    }
    accumulate_grad(x, dx);
  }
  if (w.requires_grad()) {
    Tensor dw = Tensor::empty(w.shape(), w.dtype(), w.device());
    if (w.is_cuda()) {
      RSD_CUDA_CALL(cuda::conv2d_backward_filter(x, gy, dw, stride, padding));
    } else {
      cpu::conv2d_backward_filter(x, gy, dw, g);
    }
    accumulate_grad(w, dw);
  }
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, int stride, int padding) {
  check_conv2d_args(x, w, stride, padding);
  const cpu::ConvGeometry g = cpu::conv_geometry(x, w, stride, padding);
  Tensor y = Tensor::empty({g.n, g.p, g.q, g.k}, x.dtype(), x.device());
  if (x.is_cuda()) {
    RSD_CUDA_CALL(cuda::conv2d_forward(x, w, y, stride, padding));
  } else {
    cpu::conv2d_forward(x, w, y, g);
  }
  if (needs_grad({x, w})) {
    record("conv2d", {y}, [x, w, y, stride, padding] { conv2d_backward(x, w, y.grad(), stride, padding); });
  }
  return y;
}

}  // namespace rsd
