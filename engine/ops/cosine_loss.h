// BYOL's loss on normalized projections (RS-BYOL's 2 - 2 cos(q, z')).
//
// p: (B, D), the online network's prediction; z: (B, D), the target network's projection.
//   loss = mean_i (2 - 2 <p_i, z_i> / (max(|p_i|, eps) max(|z_i|, eps)))
// z is the output of the target network (an EMA copy updated without gradients): it receives no
// gradient even if it requires grad, and the op records a node only when p requires grad. A zero
// row is clamped to norm eps: it contributes 2 to the sum and a finite gradient (see
// kernels/cosine_loss.cu for the derivation, which the CPU reference follows in double).
//
// The symmetric BYOL loss is two calls, one per view order: byol_cosine_loss(p1, z2) +
// byol_cosine_loss(p2, z1). Fusing the pair into one launch would move the same bytes.
//
// Dtypes: on the CPU f32 or f64, and the loss has the inputs' dtype (f64 for gradient checks); on
// CUDA f32 or bf16 inputs, accumulation in f32 and an f32 loss (a bf16 mean would keep 3 digits).
//
// Autograd design. The fused CUDA kernel computes the row losses and dp in one pass over p and z;
// the upstream gradient g = dL/dloss is known only in backward, and it lives on the device. So
// the forward runs the kernel in loss-only mode (reads p and z: 2 B D elements) and the backward
// runs it again with g read by the kernel from device memory (reads p and z, writes dp: 3 B D).
// That is 5 B D elements in all, the same as computing dp in the forward and scaling it by g in
// the backward (3 B D + 2 B D), but with no extra kernel, no dp buffer kept alive between forward
// and backward, no gradient written for a loss that is never differentiated, and one rounding of
// dp in bf16 instead of two. The one-pass path (3 B D) is byol_cosine_loss_forward_backward below,
// for callers that know g: training loops that call it directly, and the benchmark.
#pragma once
#include "engine/op.h"
#include "engine/tensor.h"

namespace rsd {

// Returns the loss as a one-element tensor {1} (see above). `kernel` chooses the CUDA
// implementation (fused, or the plain composition that checks it); the CPU ignores it.
Tensor byol_cosine_loss(const Tensor& p, const Tensor& z, double eps = 1e-8, Variant variant = Variant::fused);

// The one-pass entry point, no autograd (records nothing, leaves p.grad alone): loss = the value
// above, dp = dloss/dp (upstream gradient 1). Either output may be passed undefined, and is then
// allocated (loss {1}: f32 on CUDA, p's dtype on the CPU; dp: p's shape and dtype); a defined one
// must have that shape, dtype and device and is overwritten. On CUDA with the fused kernel this
// is one kernel over p and z plus the deterministic mean of B row losses.
void byol_cosine_loss_forward_backward(const Tensor& p, const Tensor& z, Tensor& loss, Tensor& dp,
                                       double eps = 1e-8, Variant variant = Variant::fused);

}  // namespace rsd
