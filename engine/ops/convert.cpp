#include "engine/ops/convert.h"

#include "engine/autograd.h"
#include "engine/ops/checks.h"

namespace rsd {

namespace {

// Records cast's backward for y, x's values in another dtype: y's gradient converted back to x's
// dtype and accumulated into x.
void record_cast(const Tensor& x, const Tensor& y) {
  if (!is_floating(y.dtype()) || !needs_grad({x})) return;
  record("cast", {y}, [x, y] {
    Tensor gx = Tensor::empty(x.shape(), x.dtype(), x.device());
    gx.copy_from(y.grad());
    accumulate_grad(x, gx);
  });
}

}  // namespace

Tensor cast(const Tensor& x, DType dtype) {
  check::defined("cast", "x", x);
  if (x.dtype() == dtype) return x;
  Tensor y = Tensor::empty(x.shape(), dtype, x.device());
  y.copy_from(x);
  record_cast(x, y);
  return y;
}

Tensor cast_reusing(const Tensor& x, const Tensor& converted) {
  check::defined("cast", "x", x);
  check::defined("cast", "converted", converted);
  RSD_CHECK(converted.shape() == x.shape() && converted.device() == x.device(), "cast: the converted tensor ",
            converted.describe(), " is not a cast of x ", x.describe());
  if (converted.dtype() == x.dtype()) return x;
  Tensor y = converted.view(converted.shape());
  record_cast(x, y);
  return y;
}

Tensor to_device(const Tensor& x, Device device) {
  check::defined("to_device", "x", x);
  if (x.device() == device) return x;
  Tensor y = Tensor::empty(x.shape(), x.dtype(), device);
  y.copy_from(x);
  if (needs_grad({x})) {
    record("to_device", {y}, [x, y] {
      Tensor gx = Tensor::empty(x.shape(), x.dtype(), x.device());
      gx.copy_from(y.grad());
      accumulate_grad(x, gx);
    });
  }
  return y;
}

Tensor reshape(const Tensor& x, const Shape& shape) {
  check::defined("reshape", "x", x);
  RSD_CHECK(shape_numel(shape) == x.numel(), "reshape: cannot reshape ", x.describe(), " to ", shape_str(shape));
  Tensor y = x.view(shape);
  if (needs_grad({x})) {
    record("reshape", {y}, [x, y] { accumulate_grad(x, y.grad().view(x.shape())); });
  }
  return y;
}

}  // namespace rsd
