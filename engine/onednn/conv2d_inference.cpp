// conv2d_inference on oneDNN (engine/ops/conv2d_inference_kernels.h), f32: one forward_inference
// convolution primitive with the bias in it and the residual add and ReLU as post-ops (sum,
// eltwise), one pass over the output instead of four.
//
// With a ConvWeightCache the weights are prepared once (the frozen network's never change), which
// allows the Winograd algorithm (oneDNN's F(4x4, 3x3) on AVX-512) for 3x3 stride-1 convolutions of
// at least 16 channels: 2-2.7x fewer cycles than the direct convolution on the project's machine
// (a ResNet-18 at 32-128 px), but its weight transform takes up to ~0.1 s a layer, so it is never
// used without a cache. Winograd works in oneDNN's blocked activation layout: x (and the residual)
// are reordered into it and y back to NHWC, memory-bound passes small beside the convolution.
// Winograd rounds differently from the direct convolution (relative differences ~1e-5 on a
// ResNet's features); RSD_WINOGRAD=0 in the environment turns it off. Elsewhere, and when oneDNN
// offers no Winograd implementation (no AVX-512), the direct convolution runs.
#include <string>

#include "engine/onednn/context.h"
#include "engine/onednn/conv_dims.h"
#include "engine/ops/conv2d_inference_kernels.h"

namespace rsd::onednn {

namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using ConvPd = dnnl::convolution_forward::primitive_desc;

// Winograd only with the weights kept transformed (its weight transform for inference is slow).
bool winograd_candidate(const ConvDims& d, const ConvWeightCache* cache) {
  return cache != nullptr && winograd_allowed() && winograd_shape(d);
}

// Bias {K}, then the post-ops: sum (the residual, already in y), ReLU. `activations`: nhwc (the
// direct convolution reads and writes rsd's tensors in place) or any (Winograd's blocked layout).
ConvPd inference_pd(const ConvDims& d, bool residual, bool relu, dnnl::algorithm algorithm, tag activations) {
  const dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, algorithm,
                                             f32_desc(d.x, activations), f32_desc(d.w, tag::any),
                                             f32_desc({d.w[0]}, tag::a), f32_desc(d.y, activations), d.strides,
                                             d.pad_l, d.pad_r);
  dnnl::post_ops ops;
  if (residual) ops.append_sum(1.0f);
  if (relu) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  dnnl::primitive_attr attr = default_attr();
  attr.set_post_ops(ops);
  return ConvPd(desc, attr, cpu_engine());
}

dnnl::reorder reorder_between(const memory::desc& from, const memory::desc& to) {
  return dnnl::reorder(dnnl::reorder::primitive_desc(cpu_engine(), from, cpu_engine(), to, default_attr()));
}

// The primitive for one shape, and for Winograd the activation reorders around it.
struct InferenceConv {
  ConvPd pd;
  dnnl::convolution_forward primitive;
  bool blocked = false;  // Winograd: x, the residual and y go through pd's blocked layouts
  dnnl::reorder x_in, y_in, y_out;
};

InferenceConv build(const ConvDims& d, bool residual, bool relu, bool winograd) {
  InferenceConv c;
  if (winograd) {
    try {
      c.pd = inference_pd(d, residual, relu, dnnl::algorithm::convolution_winograd, tag::any);
      c.primitive = dnnl::convolution_forward(c.pd);
      c.blocked = true;
      c.x_in = reorder_between(f32_desc(d.x, tag::nhwc), c.pd.src_desc());
      c.y_in = reorder_between(f32_desc(d.y, tag::nhwc), c.pd.dst_desc());
      c.y_out = reorder_between(c.pd.dst_desc(), f32_desc(d.y, tag::nhwc));
      return c;
    } catch (const dnnl::error&) {
      c = InferenceConv{};  // no Winograd implementation for this shape or CPU: the direct one
    }
  }
  c.pd = inference_pd(d, residual, relu, dnnl::algorithm::convolution_direct, tag::nhwc);
  c.primitive = dnnl::convolution_forward(c.pd);
  return c;
}

// The bytes of a memory descriptor: the layout's identity (equal descriptors, equal weights).
std::string layout_key(const memory::desc& md) {
  return std::string(reinterpret_cast<const char*>(&md.data), sizeof md.data);
}

// w (rsd's OHWI) in the primitive's weight layout. oneDNN's Winograd transform reads OIHW only.
void prepare_weights(const Tensor& w, const ConvDims& d, const memory::desc& layout, void* out) {
  const memory to(layout, cpu_engine(), out);
  const memory ohwi = wrap(w, d.w, tag::ohwi);
  if (layout.data.format_kind != dnnl_format_kind_wino) {
    execute(reorder_between(ohwi.get_desc(), layout), {{DNNL_ARG_FROM, ohwi}, {DNNL_ARG_TO, to}});
    return;
  }
  Tensor oihw_buffer = Tensor::empty({w.numel()}, DType::f32);
  const memory oihw(f32_desc(d.w, tag::oihw), cpu_engine(), oihw_buffer.raw());
  execute(reorder_between(ohwi.get_desc(), oihw.get_desc()), {{DNNL_ARG_FROM, ohwi}, {DNNL_ARG_TO, oihw}});
  execute(reorder_between(oihw.get_desc(), layout), {{DNNL_ARG_FROM, oihw}, {DNNL_ARG_TO, to}});
}

// The weights for this call: from the cache (prepared once), or prepared now into a thread buffer.
memory weights_for(const InferenceConv& c, const ConvDims& d, const Tensor& w, ConvWeightCache* cache) {
  const memory::desc layout = c.pd.weights_desc();
  if (cache == nullptr) {
    const memory m = thread_buffer(ThreadBuffer::forward_weights, layout);
    prepare_weights(w, d, layout, m.get_data_handle());
    return m;
  }
  const Tensor& prepared = cache->get(layout_key(layout), [&] {
    Tensor t = Tensor::empty({static_cast<int64_t>(layout.get_size())}, DType::u8);
    prepare_weights(w, d, layout, t.raw());
    return t;
  });
  return memory(layout, cpu_engine(), prepared.raw());
}

}  // namespace

void conv2d_inference_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor* residual, Tensor& y,
                              bool relu, int stride, int padding, ConvWeightCache* cache) {
  if (x.dtype() != DType::f32)
    return cpu::conv2d_inference_forward(x, w, bias, residual, y, relu, stride, padding, cache);
  const ConvDims d = conv_dims(x.shape(), w.shape(), stride, padding);
  const bool winograd = winograd_candidate(d, cache);
  static PrimitiveCache<InferenceConv> primitives;
  const InferenceConv& c = primitives.get(
      str_cat(d.key, residual != nullptr ? ",sum" : "", relu ? ",relu" : "", winograd ? ",winograd" : ""),
      [&] { return build(d, residual != nullptr, relu, winograd); });
  const memory weights = weights_for(c, d, w, cache);
  const memory b = wrap(bias, {d.w[0]}, tag::a);
  if (!c.blocked) {
    if (residual != nullptr) y.copy_from(*residual);  // the sum post-op adds y's old value
    execute(c.primitive, {{DNNL_ARG_SRC, wrap(x, d.x, tag::nhwc)},
                          {DNNL_ARG_WEIGHTS, weights},
                          {DNNL_ARG_BIAS, b},
                          {DNNL_ARG_DST, wrap(y, d.y, tag::nhwc)}});
    return;
  }
  const memory src = thread_buffer(ThreadBuffer::blocked_src, c.pd.src_desc());
  const memory dst = thread_buffer(ThreadBuffer::blocked_dst, c.pd.dst_desc());
  execute(c.x_in, {{DNNL_ARG_FROM, wrap(x, d.x, tag::nhwc)}, {DNNL_ARG_TO, src}});
  if (residual != nullptr) execute(c.y_in, {{DNNL_ARG_FROM, wrap(*residual, d.y, tag::nhwc)}, {DNNL_ARG_TO, dst}});
  execute(c.primitive, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST, dst}});
  execute(c.y_out, {{DNNL_ARG_FROM, dst}, {DNNL_ARG_TO, wrap(y, d.y, tag::nhwc)}});
}

}  // namespace rsd::onednn
