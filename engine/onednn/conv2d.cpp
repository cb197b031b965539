// conv2d on oneDNN (engine/ops/conv2d_kernels.h): forward, backward-data and backward-weights with
// the activations in rsd's NHWC, read and written in place. oneDNN's fast implementations want
// the weights blocked (with plain OHWI it falls back to its reference loop, ~50x slower), so the
// weights (K*R*S*C values, small beside the activations) are reordered into the layout the
// primitive chose, and dW back. One primitive and its reorders per shape, cached. float32 only:
// other dtypes go to the reference.
//
// 3x3 stride-1 convolutions of >= 16 channels run oneDNN's Winograd F(4x4, 3x3) (AVX-512) in all
// three directions: about 2x fewer cycles than the direct convolution for a ResNet's layers at
// batch 32 (its training variant transforms the weights inside the primitive, so they may change
// every step). It works on oneDNN's blocked activation layout: its inputs are reordered into it
// and its outputs back to NHWC, memory-bound passes small beside the convolution. It rounds
// differently from the direct algorithm (relative differences ~1e-6 to 1e-5); RSD_WINOGRAD=0 in the
// environment turns it off; without an implementation (no AVX-512) the direct one runs.
#include <string>
#include <utility>

#include "engine/error.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/conv2d_kernels.h"
#include "engine/onednn/context.h"
#include "engine/onednn/conv_dims.h"

namespace rsd::onednn {

namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using ForwardPd = dnnl::convolution_forward::primitive_desc;
using DataPd = dnnl::convolution_backward_data::primitive_desc;
using WeightsPd = dnnl::convolution_backward_weights::primitive_desc;

// Activations in the layout `algorithm` runs on: rsd's NHWC (direct), any (Winograd: blocked).
memory::desc activations(const memory::dims& dims, dnnl::algorithm algorithm) {
  return f32_desc(dims, algorithm == dnnl::algorithm::convolution_winograd ? tag::any : tag::nhwc);
}

ForwardPd forward_pd(const ConvDims& d, dnnl::algorithm algorithm) {
  const dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_training, algorithm, activations(d.x, algorithm),
                                             f32_desc(d.w, tag::any), activations(d.y, algorithm), d.strides,
                                             d.pad_l, d.pad_r);
  return ForwardPd(desc, default_attr(), cpu_engine());
}

DataPd data_pd(const ConvDims& d, dnnl::algorithm algorithm) {
  const dnnl::convolution_backward_data::desc desc(algorithm, activations(d.x, algorithm), f32_desc(d.w, tag::any),
                                                   activations(d.y, algorithm), d.strides, d.pad_l, d.pad_r);
  return DataPd(desc, default_attr(), cpu_engine(), forward_pd(d, algorithm));
}

WeightsPd weights_pd(const ConvDims& d, dnnl::algorithm algorithm) {
  const dnnl::convolution_backward_weights::desc desc(algorithm, activations(d.x, algorithm), f32_desc(d.w, tag::any),
                                                      activations(d.y, algorithm), d.strides, d.pad_l, d.pad_r);
  return WeightsPd(desc, default_attr(), cpu_engine(), forward_pd(d, algorithm));
}

// Builds with Winograd where the shape allows it and oneDNN implements it, else direct.
template <typename Pd>
Pd best_pd(const ConvDims& d, Pd (*make)(const ConvDims&, dnnl::algorithm)) {
  if (winograd_allowed() && winograd_shape(d)) {
    try {
      return make(d, dnnl::algorithm::convolution_winograd);
    } catch (const dnnl::error&) {
    }
  }
  return make(d, dnnl::algorithm::convolution_direct);
}

dnnl::reorder reorder_between(const memory::desc& from, const memory::desc& to) {
  return dnnl::reorder(dnnl::reorder::primitive_desc(cpu_engine(), from, cpu_engine(), to, default_attr()));
}

// One activation of a primitive: rsd's NHWC tensor as it is, or (when the primitive wants another
// layout) a thread buffer in that layout and the reorder to it (an input) or from it (an output).
struct Activation {
  memory::dims dims;
  memory::desc layout;
  bool reordered = false;
  dnnl::reorder reorder;
  ThreadBuffer buffer = ThreadBuffer::blocked_src;
};

Activation activation(const memory::dims& dims, const memory::desc& wanted, bool input, ThreadBuffer buffer) {
  Activation a{dims, wanted, false, {}, buffer};
  const memory::desc nhwc = f32_desc(dims, tag::nhwc);
  if (wanted == nhwc) return a;
  a.reordered = true;
  a.reorder = input ? reorder_between(nhwc, wanted) : reorder_between(wanted, nhwc);
  return a;
}

// The memory a primitive reads for input t (reordered into the buffer when needed).
memory input_memory(const Activation& a, const Tensor& t) {
  const memory plain = wrap(t, a.dims, tag::nhwc);
  if (!a.reordered) return plain;
  const memory m = thread_buffer(a.buffer, a.layout);
  execute(a.reorder, {{DNNL_ARG_FROM, plain}, {DNNL_ARG_TO, m}});
  return m;
}

// The memory a primitive writes for output t; finish_output moves it into t.
memory output_memory(const Activation& a, const Tensor& t) {
  return a.reordered ? thread_buffer(a.buffer, a.layout) : wrap(t, a.dims, tag::nhwc);
}
void finish_output(const Activation& a, const memory& m, const Tensor& t) {
  if (a.reordered) execute(a.reorder, {{DNNL_ARG_FROM, m}, {DNNL_ARG_TO, wrap(t, a.dims, tag::nhwc)}});
}

// A convolution primitive, the reorder between rsd's OHWI weights and its weight layout
// (OHWI -> blocked for the forward and backward-data, back for backward-weights), and how it
// takes its two activations (forward: x in, y out; backward-data: gy in, dx out; backward-weights:
// x in, gy in).
template <typename Pd, typename Primitive>
struct ConvPrimitive {
  Pd pd;
  Primitive primitive;
  memory::desc blocked_weights;
  dnnl::reorder weights_reorder;
  Activation first, second;
};

using Forward = ConvPrimitive<ForwardPd, dnnl::convolution_forward>;
using BackwardData = ConvPrimitive<DataPd, dnnl::convolution_backward_data>;
using BackwardWeights = ConvPrimitive<WeightsPd, dnnl::convolution_backward_weights>;

template <typename Conv>
Conv make_conv(const decltype(Conv::pd)& pd, const memory::desc& blocked, const ConvDims& d, bool to_blocked,
               Activation first, Activation second) {
  const memory::desc plain = f32_desc(d.w, tag::ohwi);
  const dnnl::reorder weights = to_blocked ? reorder_between(plain, blocked) : reorder_between(blocked, plain);
  return {pd, decltype(Conv::primitive)(pd), blocked, weights, std::move(first), std::move(second)};
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, Tensor& y, int stride, int padding) {
  if (x.dtype() != DType::f32) return cpu::conv2d_forward(x, w, y, stride, padding);
  const ConvDims d = conv_dims(x.shape(), w.shape(), stride, padding);
  static PrimitiveCache<Forward> cache;
  const Forward& f = cache.get(d.key, [&] {
    const ForwardPd pd = best_pd(d, forward_pd);
    return make_conv<Forward>(pd, pd.weights_desc(), d, true,
                              activation(d.x, pd.src_desc(), true, ThreadBuffer::blocked_src),
                              activation(d.y, pd.dst_desc(), false, ThreadBuffer::blocked_dst));
  });
  const memory weights = thread_buffer(ThreadBuffer::forward_weights, f.blocked_weights);
  execute(f.weights_reorder, {{DNNL_ARG_FROM, wrap(w, d.w, tag::ohwi)}, {DNNL_ARG_TO, weights}});
  const memory dst = output_memory(f.second, y);
  execute(f.primitive, {{DNNL_ARG_SRC, input_memory(f.first, x)}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}});
  finish_output(f.second, dst, y);
}

void conv2d_backward_data(const Tensor& gy, const Tensor& w, Tensor& dx, int stride, int padding) {
  if (gy.dtype() != DType::f32) return cpu::conv2d_backward_data(gy, w, dx, stride, padding);
  const ConvDims d = conv_dims(dx.shape(), w.shape(), stride, padding);
  static PrimitiveCache<BackwardData> cache;
  const BackwardData& b = cache.get(d.key, [&] {
    const DataPd pd = best_pd(d, data_pd);
    return make_conv<BackwardData>(pd, pd.weights_desc(), d, true,
                                   activation(d.y, pd.diff_dst_desc(), true, ThreadBuffer::blocked_dst),
                                   activation(d.x, pd.diff_src_desc(), false, ThreadBuffer::blocked_src));
  });
  const memory weights = thread_buffer(ThreadBuffer::data_weights, b.blocked_weights);
  execute(b.weights_reorder, {{DNNL_ARG_FROM, wrap(w, d.w, tag::ohwi)}, {DNNL_ARG_TO, weights}});
  const memory diff_src = output_memory(b.second, dx);
  execute(b.primitive, {{DNNL_ARG_DIFF_DST, input_memory(b.first, gy)},
                        {DNNL_ARG_WEIGHTS, weights},
                        {DNNL_ARG_DIFF_SRC, diff_src}});
  finish_output(b.second, diff_src, dx);
}

void conv2d_backward_filter(const Tensor& x, const Tensor& gy, Tensor& dw, int stride, int padding) {
  if (x.dtype() != DType::f32) return cpu::conv2d_backward_filter(x, gy, dw, stride, padding);
  const ConvDims d = conv_dims(x.shape(), dw.shape(), stride, padding);
  static PrimitiveCache<BackwardWeights> cache;
  const BackwardWeights& b = cache.get(d.key, [&] {
    const WeightsPd pd = best_pd(d, weights_pd);
    return make_conv<BackwardWeights>(pd, pd.diff_weights_desc(), d, false,
                                      activation(d.x, pd.src_desc(), true, ThreadBuffer::blocked_src),
                                      activation(d.y, pd.diff_dst_desc(), true, ThreadBuffer::blocked_dst));
  });
  const memory weights = thread_buffer(ThreadBuffer::filter_weights, b.blocked_weights);
  execute(b.primitive, {{DNNL_ARG_SRC, input_memory(b.first, x)},
                        {DNNL_ARG_DIFF_DST, input_memory(b.second, gy)},
                        {DNNL_ARG_DIFF_WEIGHTS, weights}});
  execute(b.weights_reorder, {{DNNL_ARG_FROM, weights}, {DNNL_ARG_TO, wrap(dw, d.w, tag::ohwi)}});
}

}  // namespace rsd::onednn
