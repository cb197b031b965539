// The kernel of byol_cosine_loss (engine/ops/cosine_loss.h), declared once for every backend:
// engine/cpu/cosine_loss.cpp (the reference, sums in double), engine/onednn/cosine_loss.cpp (its rows
// multithreaded) and engine/cuda/cosine_loss.cpp
// (kernels/cosine_loss.cu).
#pragma once
#include "engine/op.h"

namespace rsd {

// p, z: (B, D), one dtype. Writes what is asked for (a null pointer: not wanted):
//   loss {1} = mean_i (2 - 2 cos_i): f32 on CUDA, p's dtype on the CPU;
//   dp (B, D), p's dtype = g[0] * dloss/dp, where g is a one-element tensor of the loss's dtype on
//   p's device (on CUDA the kernel reads it there: no host synchronization), or dloss/dp when g
//   is null.
// `variant` picks the fused one-pass CUDA kernel or the plain composition; the CPU has one.
RSD_DECLARE_KERNEL(byol_cosine_loss, (const Tensor& p, const Tensor& z, Tensor* loss, Tensor* dp, const Tensor* g,
                                      double eps, Variant variant));
// engine/onednn/cosine_loss.cpp: the reference's rows on the OpenMP pool.
RSD_DECLARE_ONEDNN_KERNEL(byol_cosine_loss)

}  // namespace rsd
