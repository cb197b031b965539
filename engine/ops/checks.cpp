#include "engine/ops/checks.h"

namespace rsd::check {

void defined(const char* op, const char* name, const Tensor& t) {
  RSD_CHECK(t.defined(), op, ": ", name, " is an undefined tensor");
}

void same_device(const char* op, const Tensor& a, const Tensor& b) {
  RSD_CHECK(a.device() == b.device(), op, ": tensors on different devices: ", a.describe(), " and ",
            b.describe(), " (move one with to_device)");
}

void same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  RSD_CHECK(a.dtype() == b.dtype(), op, ": dtypes differ: ", a.describe(), " and ", b.describe(), " (cast one)");
}

void same_shape(const char* op, const Tensor& a, const Tensor& b) {
  RSD_CHECK(a.shape() == b.shape(), op, ": shapes differ: ", a.describe(), " and ", b.describe());
}

void floating(const char* op, const char* name, const Tensor& t) {
  RSD_CHECK(is_floating(t.dtype()), op, ": ", name, " must be a floating tensor, got ", t.describe());
}

void ndim(const char* op, const char* name, const Tensor& t, int expected) {
  RSD_CHECK(t.ndim() == expected, op, ": ", name, " must have ", expected, " dimensions, got ", t.describe());
}

void dtype_is(const char* op, const char* name, const Tensor& t, DType expected) {
  RSD_CHECK(t.dtype() == expected, op, ": ", name, " must be ", dtype_name(expected), ", got ", t.describe());
}

void computable(const char* op, const char* name, const Tensor& t) {
  if (t.is_cuda()) {
    RSD_CHECK(t.dtype() == DType::f32 || t.dtype() == DType::bf16, op, ": dtype ", dtype_name(t.dtype()), " of ", name,
              " ", t.describe(), " is not supported on the CUDA backend (f32 and bf16 are)");
  } else {
    RSD_CHECK(t.dtype() == DType::f32 || t.dtype() == DType::f64, op, ": dtype ", dtype_name(t.dtype()), " of ", name,
              " ", t.describe(), " is not supported on the CPU backend (it computes in f32 and f64; cast first)");
  }
}

}  // namespace rsd::check
