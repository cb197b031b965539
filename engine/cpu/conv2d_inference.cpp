// The reference of conv2d_inference (engine/ops/conv2d_inference_kernels.h): the reference
// convolution, then bias, residual and ReLU per element.
#include "engine/dispatch.h"
#include "engine/ops/conv2d_inference_kernels.h"
#include "engine/ops/conv2d_kernels.h"

namespace rsd::cpu {

void conv2d_inference_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor* residual, Tensor& y,
                              bool relu, int stride, int padding, ConvWeightCache*) {
  conv2d_forward(x, w, y, stride, padding);
  dispatch_cpu_float(y.dtype(), "conv2d_inference", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t K = y.dim(3), rows = y.numel() / K;  // y: (rows, K)
    T* out = y.data<T>();
    const T* b = bias.data<T>();
    const T* res = residual != nullptr ? residual->data<T>() : nullptr;
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t k = 0; k < K; ++k) {
        T v = out[i * K + k] + b[k];
        if (res != nullptr) v += res[i * K + k];
        out[i * K + k] = relu && v < T(0) ? T(0) : v;
      }
  });
}

}  // namespace rsd::cpu
