// linear on the fast CPU backend (engine/ops/linear_kernels.h), f32: oneDNN's GEMM, which runs on
// the OpenMP pool of the convolutions, instead of OpenBLAS's own thread pool (two pools in one
// step would each spin while the other works). The bias and its gradient stay the reference's.
#include "engine/ops/linear_kernels.h"
#include "engine/onednn/context.h"

namespace rsd::onednn {

void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) {
  if (x.dtype() != DType::f32) return cpu::linear_forward(x, w, b, y);
  apply_thread_budget();
  const int64_t n = x.dim(0), in = x.dim(1), out = w.dim(0);
  dnnl::sgemm('N', 'T', n, out, in, 1.0f, x.data<float>(), in, w.data<float>(), in, 0.0f, y.data<float>(), out);
  if (!b.defined()) return;
  const float* bias = b.data<float>();
  float* py = y.data<float>();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < out; ++j) py[i * out + j] += bias[j];
}

void linear_backward_input(const Tensor& gy, const Tensor& w, Tensor& dx) {
  if (gy.dtype() != DType::f32) return cpu::linear_backward_input(gy, w, dx);
  apply_thread_budget();
  const int64_t n = gy.dim(0), out = w.dim(0), in = w.dim(1);
  dnnl::sgemm('N', 'N', n, in, out, 1.0f, gy.data<float>(), out, w.data<float>(), in, 0.0f, dx.data<float>(), in);
}

void linear_backward_weight(const Tensor& gy, const Tensor& x, Tensor& dw) {
  if (gy.dtype() != DType::f32) return cpu::linear_backward_weight(gy, x, dw);
  apply_thread_budget();
  const int64_t n = x.dim(0), in = x.dim(1), out = gy.dim(1);
  dnnl::sgemm('T', 'N', out, in, n, 1.0f, gy.data<float>(), out, x.data<float>(), in, 0.0f, dw.data<float>(), in);
}

}  // namespace rsd::onednn
