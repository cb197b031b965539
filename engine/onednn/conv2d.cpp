// conv2d on oneDNN (engine/ops/conv2d_kernels.h): forward, backward-data and backward-weights with
// the activations in rsd's NHWC, read and written in place. oneDNN's fast implementations want
// the weights blocked (with plain OHWI it falls back to its reference loop, ~50x slower), so the
// weights (K*R*S*C values, small beside the activations) are reordered into the layout the
// primitive chose, and dW back. One primitive and its reorders per shape, cached. float32 only:
// other dtypes go to the reference.
#include <string>

#include "engine/error.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/conv2d_kernels.h"
#include "engine/onednn/context.h"
#include "engine/onednn/conv_dims.h"

namespace rsd::onednn {

namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;

dnnl::convolution_forward::primitive_desc forward_pd(const ConvDims& d) {
  const dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                             f32_desc(d.x, tag::nhwc), f32_desc(d.w, tag::any),
                                             f32_desc(d.y, tag::nhwc), d.strides, d.pad_l, d.pad_r);
  return dnnl::convolution_forward::primitive_desc(desc, default_attr(), cpu_engine());
}

// A convolution primitive and the reorder between rsd's OHWI weights and its weight layout.
template <typename PrimitiveDesc, typename Primitive>
struct ConvPrimitive {
  PrimitiveDesc pd;
  Primitive primitive;
  memory::desc blocked_weights;
  dnnl::reorder weights_reorder;  // OHWI -> blocked (forward, backward-data) or back (backward-weights)
};

using Forward = ConvPrimitive<dnnl::convolution_forward::primitive_desc, dnnl::convolution_forward>;
using BackwardData = ConvPrimitive<dnnl::convolution_backward_data::primitive_desc, dnnl::convolution_backward_data>;
using BackwardWeights =
    ConvPrimitive<dnnl::convolution_backward_weights::primitive_desc, dnnl::convolution_backward_weights>;

template <typename Conv>
Conv make_conv(const decltype(Conv::pd)& pd, const memory::desc& blocked, const ConvDims& d, bool to_blocked) {
  const memory::desc plain = f32_desc(d.w, tag::ohwi);
  const dnnl::reorder::primitive_desc reorder_pd =
      to_blocked ? dnnl::reorder::primitive_desc(cpu_engine(), plain, cpu_engine(), blocked, default_attr())
                 : dnnl::reorder::primitive_desc(cpu_engine(), blocked, cpu_engine(), plain, default_attr());
  return {pd, decltype(Conv::primitive)(pd), blocked, dnnl::reorder(reorder_pd)};
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, Tensor& y, int stride, int padding) {
  if (x.dtype() != DType::f32) return cpu::conv2d_forward(x, w, y, stride, padding);
  const ConvDims d = conv_dims(x.shape(), w.shape(), stride, padding);
  static PrimitiveCache<Forward> cache;
  const Forward& f = cache.get(d.key, [&] {
    const auto pd = forward_pd(d);
    return make_conv<Forward>(pd, pd.weights_desc(), d, true);
  });
  const memory weights = thread_buffer(ThreadBuffer::forward_weights, f.blocked_weights);
  execute(f.weights_reorder, {{DNNL_ARG_FROM, wrap(w, d.w, tag::ohwi)}, {DNNL_ARG_TO, weights}});
  execute(f.primitive,
          {{DNNL_ARG_SRC, wrap(x, d.x, tag::nhwc)}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, wrap(y, d.y, tag::nhwc)}});
}

void conv2d_backward_data(const Tensor& gy, const Tensor& w, Tensor& dx, int stride, int padding) {
  if (gy.dtype() != DType::f32) return cpu::conv2d_backward_data(gy, w, dx, stride, padding);
  const ConvDims d = conv_dims(dx.shape(), w.shape(), stride, padding);
  static PrimitiveCache<BackwardData> cache;
  const BackwardData& b = cache.get(d.key, [&] {
    const dnnl::convolution_backward_data::desc desc(dnnl::algorithm::convolution_direct, f32_desc(d.x, tag::nhwc),
                                                     f32_desc(d.w, tag::any), f32_desc(d.y, tag::nhwc), d.strides,
                                                     d.pad_l, d.pad_r);
    const dnnl::convolution_backward_data::primitive_desc pd(desc, default_attr(), cpu_engine(), forward_pd(d));
    return make_conv<BackwardData>(pd, pd.weights_desc(), d, true);
  });
  const memory weights = thread_buffer(ThreadBuffer::data_weights, b.blocked_weights);
  execute(b.weights_reorder, {{DNNL_ARG_FROM, wrap(w, d.w, tag::ohwi)}, {DNNL_ARG_TO, weights}});
  execute(b.primitive,
          {{DNNL_ARG_DIFF_DST, wrap(gy, d.y, tag::nhwc)},
           {DNNL_ARG_WEIGHTS, weights},
           {DNNL_ARG_DIFF_SRC, wrap(dx, d.x, tag::nhwc)}});
}

void conv2d_backward_filter(const Tensor& x, const Tensor& gy, Tensor& dw, int stride, int padding) {
  if (x.dtype() != DType::f32) return cpu::conv2d_backward_filter(x, gy, dw, stride, padding);
  const ConvDims d = conv_dims(x.shape(), dw.shape(), stride, padding);
  static PrimitiveCache<BackwardWeights> cache;
  const BackwardWeights& b = cache.get(d.key, [&] {
    const dnnl::convolution_backward_weights::desc desc(dnnl::algorithm::convolution_direct,
                                                        f32_desc(d.x, tag::nhwc), f32_desc(d.w, tag::any),
                                                        f32_desc(d.y, tag::nhwc), d.strides, d.pad_l, d.pad_r);
    const dnnl::convolution_backward_weights::primitive_desc pd(desc, default_attr(), cpu_engine(), forward_pd(d));
    return make_conv<BackwardWeights>(pd, pd.diff_weights_desc(), d, false);
  });
  const memory weights = thread_buffer(ThreadBuffer::filter_weights, b.blocked_weights);
  execute(b.primitive,
          {{DNNL_ARG_SRC, wrap(x, d.x, tag::nhwc)}, {DNNL_ARG_DIFF_DST, wrap(gy, d.y, tag::nhwc)},
           {DNNL_ARG_DIFF_WEIGHTS, weights}});
  execute(b.weights_reorder, {{DNNL_ARG_FROM, weights}, {DNNL_ARG_TO, wrap(dw, d.w, tag::ohwi)}});
}

}  // namespace rsd::onednn
