// Ops that change a tensor's dtype, device or shape, with gradients flowing back through them.
#pragma once
#include "engine/tensor.h"

namespace rsd {

// x converted to dtype (float dtypes keep gradients: the gradient is cast back). A no-op copy
// is not made when dtype already matches: x itself is returned.
Tensor cast(const Tensor& x, DType dtype);
// x copied to device (gradients copied back). Returns x itself when already there.
Tensor to_device(const Tensor& x, Device device);
// The same elements with another shape (a view; the gradient is reshaped back).
Tensor reshape(const Tensor& x, const Shape& shape);

}  // namespace rsd
