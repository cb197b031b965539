// The kernels of the pooling ops (engine/ops/pool.h), declared once for every backend:
// engine/cpu/pool.cpp (the reference), engine/onednn/pool.cpp and engine/cuda/pool.cpp. NHWC; max pooling windows are
// kernel x kernel.
#pragma once
#include "engine/op.h"

namespace rsd {

// x: (N, H, W, C); y, argmax (i32, h*W + w within the image): (N, P, Q, C).
RSD_DECLARE_KERNEL(max_pool2d_forward,
                   (const Tensor& x, Tensor& y, Tensor& argmax, int kernel, int stride, int padding));
// gy, argmax: (N, P, Q, C); gx: (N, H, W, C), every element written. The reference needs only the
// argmax; the CUDA kernel gathers per input pixel over the windows that can hold it.
RSD_DECLARE_KERNEL(max_pool2d_backward,
                   (const Tensor& gy, const Tensor& argmax, Tensor& gx, int kernel, int stride, int padding));
// x: (N, H, W, C) -> y: (N, C).
RSD_DECLARE_KERNEL(global_avg_pool_forward, (const Tensor& x, Tensor& y));
// gy: (N, C) -> gx: (N, H, W, C).
RSD_DECLARE_KERNEL(global_avg_pool_backward, (const Tensor& gy, Tensor& gx));

// engine/onednn/pool.cpp: the reference's loops on the OpenMP pool (f32 and f64).
RSD_DECLARE_ONEDNN_KERNEL(max_pool2d_forward)
RSD_DECLARE_ONEDNN_KERNEL(max_pool2d_backward)
RSD_DECLARE_ONEDNN_KERNEL(global_avg_pool_forward)
RSD_DECLARE_ONEDNN_KERNEL(global_avg_pool_backward)

}  // namespace rsd
