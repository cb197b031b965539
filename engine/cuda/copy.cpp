#include "engine/cuda/copy.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "engine/cuda/check.h"
#include "engine/cuda/context.h"
#include "engine/dispatch.h"
#include "kernels/cast.cuh"
#include "kernels/elementwise.cuh"

namespace rsd::cuda {

namespace {

// Runs f with the C++ type of any dtype (the CUDA-side representation of bf16 and f16).
template <typename F>
void with_any_type(DType t, F&& f) {
  switch (t) {
    case DType::f32: f(TypeTag<float>{}); return;
    case DType::f64: f(TypeTag<double>{}); return;
    case DType::bf16: f(TypeTag<__nv_bfloat16>{}); return;
    case DType::f16: f(TypeTag<__half>{}); return;
    case DType::i32: f(TypeTag<int32_t>{}); return;
    case DType::u8: f(TypeTag<uint8_t>{}); return;
  }
}

// Conversion of two tensors on the same GPU.
void cast_on_device(const Tensor& src, Tensor& dst) {
  const DeviceContext& ctx = context(src.device().index);
  const int64_t n = src.numel();
  with_any_type(src.dtype(), [&](auto in_tag) {
    using Tin = typename decltype(in_tag)::type;
    with_any_type(dst.dtype(), [&](auto out_tag) {
      using Tout = typename decltype(out_tag)::type;
      kernels::cast<Tin, Tout>(static_cast<const Tin*>(src.raw()), static_cast<Tout*>(dst.raw()), n, ctx.stream);
    });
  });
  RSD_CUDA_CHECK_LAUNCH("cast ", src.describe(), " -> ", dst.describe());
}

}  // namespace

void copy_convert(const Tensor& src, Tensor& dst) {
  const Device sd = src.device(), dd = dst.device();
  const std::string what = str_cat("copy ", src.describe(), " -> ", dst.describe());
  if (sd.is_cuda() && dd.is_cuda() && sd.index == dd.index) {
    if (src.dtype() == dst.dtype()) {
      const DeviceContext& ctx = context(sd.index);
      RSD_CUDA_CHECK(cudaMemcpyAsync(dst.raw(), src.raw(), src.nbytes(), cudaMemcpyDeviceToDevice, ctx.stream), what);
    } else {
      cast_on_device(src, dst);
    }
    return;
  }
  if (src.dtype() != dst.dtype()) {
    // Convert where the data already is when it is on a GPU, else on the destination GPU.
    if (sd.is_cuda()) {
      Tensor converted = Tensor::empty(src.shape(), dst.dtype(), sd);
      cast_on_device(src, converted);
      copy_convert(converted, dst);
    } else {
      Tensor staged = Tensor::empty(src.shape(), src.dtype(), dd);
      copy_convert(src, staged);
      cast_on_device(staged, dst);
    }
    return;
  }
  if (src.numel() == 0) return;
  if (sd.is_cpu()) {  // host -> device: returns once the pageable source has been staged
    const DeviceContext& ctx = context(dd.index);
    RSD_CUDA_CHECK(cudaMemcpyAsync(dst.raw(), src.raw(), src.nbytes(), cudaMemcpyHostToDevice, ctx.stream), what);
  } else if (dd.is_cpu()) {  // device -> host: the host reads it right after, so wait
    const DeviceContext& ctx = context(sd.index);
    RSD_CUDA_CHECK(cudaMemcpyAsync(dst.raw(), src.raw(), src.nbytes(), cudaMemcpyDeviceToHost, ctx.stream), what);
    RSD_CUDA_CHECK(cudaStreamSynchronize(ctx.stream), what);
  } else {  // between GPUs: order after the source's queued work, then copy peer to peer
    synchronize(sd.index);
    const DeviceContext& ctx = context(dd.index);
    RSD_CUDA_CHECK(cudaMemcpyPeerAsync(dst.raw(), dd.index, src.raw(), sd.index, src.nbytes(), ctx.stream), what);
  }
}

void fill(Tensor& t, double value) {
  const DeviceContext& ctx = context(t.device().index);
  const int64_t n = t.numel();
  if (n == 0) return;
  if (value == 0.0) {
    RSD_CUDA_CHECK(cudaMemsetAsync(t.raw(), 0, t.nbytes(), ctx.stream), "fill ", t.describe());
    return;
  }
  // Every dtype in one kernel that converts the double itself: an f64 tensor gets the exact value.
  with_any_type(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::fill<T>(static_cast<T*>(t.raw()), value, n, ctx.stream);
  });
  RSD_CUDA_CHECK_LAUNCH("fill ", t.describe());
}

void copy_columns(const Tensor& src, int64_t begin, Tensor& dst) {
  const size_t elem = dtype_size(src.dtype());
  const size_t src_pitch = static_cast<size_t>(src.dim(1)) * elem;
  const size_t width = static_cast<size_t>(dst.dim(1)) * elem;
  const auto* from = static_cast<const char*>(src.raw()) + static_cast<size_t>(begin) * elem;
  RSD_CUDA_CHECK(cudaMemcpy2DAsync(dst.raw(), width, from, src_pitch, width, static_cast<size_t>(src.dim(0)),
                                   cudaMemcpyDeviceToDevice, context(src.device().index).stream),
                 "copy_columns ", src.describe(), " [", begin, ", +", dst.dim(1), ")");
}

void copy_range(const Tensor& src, int64_t src_offset, Tensor& dst, int64_t dst_offset, int64_t count) {
  const size_t elem = dtype_size(src.dtype());
  const auto* from = static_cast<const char*>(src.raw()) + static_cast<size_t>(src_offset) * elem;
  auto* to = static_cast<char*>(dst.raw()) + static_cast<size_t>(dst_offset) * elem;
  RSD_CUDA_CHECK(cudaMemcpyAsync(to, from, static_cast<size_t>(count) * elem, cudaMemcpyDeviceToDevice,
                                 context(src.device().index).stream),
                 "copy_range ", src.describe(), " -> ", dst.describe());
}

}  // namespace rsd::cuda
