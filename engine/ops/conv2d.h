// 2-D convolution on NHWC activations, groups 1, dilation 1, no bias (ResNets put batch norm after
// every convolution). Weights are (K, R, S, C): cuDNN's NHWC filter layout.
#pragma once
#include <cstdint>

#include "engine/tensor.h"

namespace rsd {

// Output size along one spatial axis: (in + 2 * padding - kernel) / stride + 1, or 0 when the
// kernel does not fit the padded input.
int64_t conv2d_output_size(int64_t in, int64_t kernel, int stride, int padding);

// x: (N, H, W, C), w: (K, R, S, C). Returns y: (N, P, Q, K) with P = conv2d_output_size(H, R, ...)
// and Q = conv2d_output_size(W, S, ...): y[n,p,q,k] = sum over r,s,c of
// x[n, p*stride - padding + r, q*stride - padding + s, c] * w[k,r,s,c] (zero outside x).
// Backward: dx and dw (the transposed convolution and the correlation of x with gy).
Tensor conv2d(const Tensor& x, const Tensor& w, int stride = 1, int padding = 0);

}  // namespace rsd
