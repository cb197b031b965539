// Pooling over NHWC activations.
#pragma once
#include "engine/tensor.h"

namespace rsd {

// x: (N, H, W, C) -> y: (N, P, Q, C), P = (H + 2 padding - kernel) / stride + 1 (Q likewise), the
// maximum of each kernel x kernel window; padding never wins (padding <= kernel / 2, as PyTorch
// requires). Backward: the gradient goes to the window's argmax (the first maximum in row-major
// window order on ties), saved by the forward pass.
Tensor max_pool2d(const Tensor& x, int kernel, int stride, int padding);
// x: (N, H, W, C) -> y: (N, C), the mean over H*W. Backward: gx = gy / (H*W) broadcast.
Tensor global_avg_pool(const Tensor& x);

}  // namespace rsd
