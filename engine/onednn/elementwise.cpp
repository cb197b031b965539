// relu, add (and add + relu in one pass) and gradient accumulation on oneDNN (engine/ops/elementwise_kernels.h), f32: one pass on
// the OpenMP pool that the convolutions use, instead of a single-threaded loop while the pool's
// other threads spin. Tensors are flat (numel) vectors; other dtypes go to the reference.
#include <string>

#include "engine/ops/elementwise_kernels.h"
#include "engine/onednn/context.h"

namespace rsd::onednn {

namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;

memory::dims flat(const Tensor& t) { return {t.numel()}; }
memory::desc flat_desc(const Tensor& t) { return f32_desc(flat(t), tag::a); }

using Eltwise = Built<dnnl::eltwise_forward::primitive_desc, dnnl::eltwise_forward>;
using EltwiseBackward = Built<dnnl::eltwise_backward::primitive_desc, dnnl::eltwise_backward>;
using Binary = Built<dnnl::binary::primitive_desc, dnnl::binary>;

dnnl::eltwise_forward::primitive_desc relu_pd(const Tensor& x) {
  const dnnl::eltwise_forward::desc desc(dnnl::prop_kind::forward_training, dnnl::algorithm::eltwise_relu,
                                         flat_desc(x), 0.0f, 0.0f);
  return dnnl::eltwise_forward::primitive_desc(desc, default_attr(), cpu_engine());
}

// y = a + b, or max(a + b, 0) with `relu` (an eltwise post-op) (y may be a: accumulation in place).
void binary_add(const Tensor& a, const Tensor& b, Tensor& y, bool relu = false) {
  static PrimitiveCache<Binary> cache;
  const Binary& p = cache.get(str_cat(a.numel(), relu ? ",relu" : ""), [&] {
    const dnnl::binary::desc desc(dnnl::algorithm::binary_add, flat_desc(a), flat_desc(b), flat_desc(y));
    dnnl::primitive_attr attr = default_attr();
    if (relu) {
      dnnl::post_ops ops;
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
      attr.set_post_ops(ops);
    }
    const dnnl::binary::primitive_desc pd(desc, attr, cpu_engine());
    return Binary{pd, dnnl::binary(pd)};
  });
  execute(p.primitive, {{DNNL_ARG_SRC_0, wrap(a, flat(a), tag::a)},
                        {DNNL_ARG_SRC_1, wrap(b, flat(b), tag::a)},
                        {DNNL_ARG_DST, wrap(y, flat(y), tag::a)}});
}

}  // namespace

void relu_forward(const Tensor& x, Tensor& y) {
  if (x.dtype() != DType::f32) return cpu::relu_forward(x, y);
  static PrimitiveCache<Eltwise> cache;
  const Eltwise& p = cache.get(std::to_string(x.numel()), [&] {
    const auto pd = relu_pd(x);
    return Eltwise{pd, dnnl::eltwise_forward(pd)};
  });
  execute(p.primitive, {{DNNL_ARG_SRC, wrap(x, flat(x), tag::a)}, {DNNL_ARG_DST, wrap(y, flat(y), tag::a)}});
}

void relu_backward(const Tensor& y, const Tensor& gy, Tensor& gx) {
  if (y.dtype() != DType::f32) return cpu::relu_backward(y, gy, gx);
  static PrimitiveCache<EltwiseBackward> cache;
  const EltwiseBackward& p = cache.get(std::to_string(y.numel()), [&] {
    // relu's gradient from its output: gx = gy where y > 0, else 0 (the reference's rule).
    const dnnl::eltwise_forward::desc hint_desc(dnnl::prop_kind::forward_training,
                                                dnnl::algorithm::eltwise_relu_use_dst_for_bwd, flat_desc(y), 0.0f,
                                                0.0f);
    const dnnl::eltwise_forward::primitive_desc hint(hint_desc, default_attr(), cpu_engine());
    const dnnl::eltwise_backward::desc desc(dnnl::algorithm::eltwise_relu_use_dst_for_bwd, flat_desc(gy), flat_desc(y),
                                            0.0f, 0.0f);
    const dnnl::eltwise_backward::primitive_desc pd(desc, default_attr(), cpu_engine(), hint);
    return EltwiseBackward{pd, dnnl::eltwise_backward(pd)};
  });
  execute(p.primitive, {{DNNL_ARG_DST, wrap(y, flat(y), tag::a)},
                        {DNNL_ARG_DIFF_DST, wrap(gy, flat(gy), tag::a)},
                        {DNNL_ARG_DIFF_SRC, wrap(gx, flat(gx), tag::a)}});
}

void add(const Tensor& a, const Tensor& b, Tensor& y) {
  if (a.dtype() != DType::f32) return cpu::add(a, b, y);
  binary_add(a, b, y);
}

void add_relu_forward(const Tensor& a, const Tensor& b, Tensor& y) {
  if (a.dtype() != DType::f32) return cpu::add_relu_forward(a, b, y);
  binary_add(a, b, y, true);
}

void accumulate(Tensor& dst, const Tensor& src) {
  if (dst.dtype() != DType::f32 || src.dtype() != DType::f32) return cpu::accumulate(dst, src);
  binary_add(dst, src, dst);
}

}  // namespace rsd::onednn
