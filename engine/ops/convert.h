// Ops that change a tensor's dtype, device or shape, with gradients flowing back through them.
#pragma once
#include "engine/tensor.h"

namespace rsd {

// x converted to dtype (float dtypes keep gradients: the gradient is cast back). A no-op copy
// is not made when dtype already matches: x itself is returned.
Tensor cast(const Tensor& x, DType dtype);
// cast(x, converted.dtype()) without converting again: `converted` is an earlier cast of x and x
// has not changed since (the caller's promise). Returns a view of converted's storage with its own
// autograd node, whose backward is cast's: each use's gradient goes back to x on its own, exactly
// as if x had been cast again.
Tensor cast_reusing(const Tensor& x, const Tensor& converted);
// x copied to device (gradients copied back). Returns x itself when already there.
Tensor to_device(const Tensor& x, Device device);
// The same elements with another shape (a view; the gradient is reshaped back).
Tensor reshape(const Tensor& x, const Shape& shape);

}  // namespace rsd
