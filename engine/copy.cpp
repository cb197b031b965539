#include "engine/copy.h"

#include <algorithm>
#include <cstring>

#include "engine/backend.h"

#if RSD_HAVE_CUDA
#include "engine/cuda/copy.h"
#endif

namespace rsd {

namespace cpu {

double load_element(DType t, const void* base, int64_t i) {
  switch (t) {
    case DType::f32: return static_cast<const float*>(base)[i];
    case DType::f64: return static_cast<const double*>(base)[i];
    case DType::bf16: return bf16_bits_to_float(static_cast<const uint16_t*>(base)[i]);
    case DType::f16: return f16_bits_to_float(static_cast<const uint16_t*>(base)[i]);
    case DType::i32: return static_cast<const int32_t*>(base)[i];
    case DType::u8: return static_cast<const uint8_t*>(base)[i];
  }
  fail("load_element: unknown dtype");
}

void store_element(DType t, void* base, int64_t i, double v) {
  switch (t) {
    case DType::f32: static_cast<float*>(base)[i] = static_cast<float>(v); return;
    case DType::f64: static_cast<double*>(base)[i] = v; return;
    case DType::bf16: static_cast<uint16_t*>(base)[i] = float_to_bf16_bits(static_cast<float>(v)); return;
    case DType::f16: static_cast<uint16_t*>(base)[i] = float_to_f16_bits(static_cast<float>(v)); return;
    case DType::i32: static_cast<int32_t*>(base)[i] = static_cast<int32_t>(v); return;
    case DType::u8: static_cast<uint8_t*>(base)[i] = static_cast<uint8_t>(v); return;
  }
  fail("store_element: unknown dtype");
}

namespace {
void copy_convert_host(const Tensor& src, Tensor& dst) {
  const int64_t n = src.numel();
  if (src.dtype() == dst.dtype()) {
    if (n > 0) std::memcpy(dst.raw(), src.raw(), src.nbytes());
    return;
  }
  const void* s = src.raw();
  void* d = dst.raw();
  if (src.dtype() == DType::f32 && dst.dtype() == DType::f64) {
    for (int64_t i = 0; i < n; ++i) static_cast<double*>(d)[i] = static_cast<const float*>(s)[i];
    return;
  }
  for (int64_t i = 0; i < n; ++i) store_element(dst.dtype(), d, i, load_element(src.dtype(), s, i));
}
}  // namespace

}  // namespace cpu

void copy_convert(const Tensor& src, Tensor& dst) {
  RSD_CHECK(src.numel() == dst.numel(), "copy: ", src.describe(), " into ", dst.describe());
  if (src.device().is_cpu() && dst.device().is_cpu()) {
    cpu::copy_convert_host(src, dst);
    return;
  }
  RSD_CUDA_CALL(cuda::copy_convert(src, dst));
}

void fill_(Tensor& t, double value) {
  if (t.device().is_cpu()) {
    const int64_t n = t.numel();
    void* p = t.raw();
    if (value == 0.0) {
      if (n > 0) std::memset(p, 0, t.nbytes());
      return;
    }
    if (t.dtype() == DType::f32) {
      std::fill_n(static_cast<float*>(p), n, static_cast<float>(value));
    } else if (t.dtype() == DType::f64) {
      std::fill_n(static_cast<double*>(p), n, value);
    } else {
      for (int64_t i = 0; i < n; ++i) cpu::store_element(t.dtype(), p, i, value);
    }
    return;
  }
  RSD_CUDA_CALL(cuda::fill(t, value));
}

Tensor copy_columns(const Tensor& x, int64_t begin, int64_t end) {
  RSD_CHECK(x.defined() && x.ndim() == 2, "copy_columns: expected a matrix (R, C), got ",
            x.defined() ? x.describe() : std::string("an undefined tensor"));
  const int64_t rows = x.dim(0), cols = x.dim(1);
  RSD_CHECK(0 <= begin && begin < end && end <= cols, "copy_columns: columns [", begin, ", ", end, ") of ",
            x.describe());
  Tensor y = Tensor::empty({rows, end - begin}, x.dtype(), x.device());
  if (x.is_cuda()) {
    RSD_CUDA_CALL(cuda::copy_columns(x, begin, y));
    return y;
  }
  const size_t elem = dtype_size(x.dtype());
  const auto* src = static_cast<const char*>(x.raw());
  auto* dst = static_cast<char*>(y.raw());
  const size_t row_bytes = static_cast<size_t>(end - begin) * elem;
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(dst + static_cast<size_t>(r) * row_bytes, src + (static_cast<size_t>(r * cols + begin)) * elem,
                row_bytes);
  }
  return y;
}

void copy_range(const Tensor& src, int64_t src_offset, Tensor& dst, int64_t dst_offset, int64_t count) {
  RSD_CHECK(src.dtype() == dst.dtype() && src.device() == dst.device(), "copy_range: ", src.describe(), " -> ",
            dst.describe(), " needs one dtype and one device");
  RSD_CHECK(count >= 0 && src_offset >= 0 && dst_offset >= 0 && src_offset + count <= src.numel() &&
                dst_offset + count <= dst.numel(),
            "copy_range: [", src_offset, ", +", count, ") of ", src.describe(), " -> [", dst_offset, ", +", count,
            ") of ", dst.describe());
  if (count == 0) return;
  if (src.is_cuda()) {
    RSD_CUDA_CALL(cuda::copy_range(src, src_offset, dst, dst_offset, count));
    return;
  }
  const size_t elem = dtype_size(src.dtype());
  std::memcpy(static_cast<char*>(dst.raw()) + static_cast<size_t>(dst_offset) * elem,
              static_cast<const char*>(src.raw()) + static_cast<size_t>(src_offset) * elem,
              static_cast<size_t>(count) * elem);
}

}  // namespace rsd
