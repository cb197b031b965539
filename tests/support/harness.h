// Test helpers: reproducible random tensors, error measures, float64 gradient checks.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace rsd::test {

// Uniform [lo, hi) values from Philox (seeded; the same on every machine), converted to dtype.
Tensor random_tensor(const Shape& shape, DType dtype, Device device, uint64_t seed, double lo = -1.0,
                     double hi = 1.0);
// Integer class labels in [0, classes).
Tensor random_labels(int64_t n, int classes, Device device, uint64_t seed);

// Normalized mean squared error sum((ref - got)^2) / sum(ref^2) (denominator floored at 1e-30
// per element count so all-zero references compare absolutely). NaN anywhere gives +inf.
double nmse(const std::vector<double>& ref, const std::vector<double>& got);
// max |ref - got| / max(|ref|, floor), and the index where it occurs.
double max_relative_error(const std::vector<double>& ref, const std::vector<double>& got, double floor = 1e-3,
                          size_t* where = nullptr);

// max |got - ref| over the elements, relative to the largest |ref| of the tensor, or to `floor`
// when that is larger (a tensor that is zero in exact arithmetic holds only rounding noise, to be
// measured against a scale the caller knows). Both are read on the host.
double scaled_max_error(const Tensor& ref, const Tensor& got, double floor = 1e-30);

// The message of the rsd::Error that f throws; empty when it throws none (so a check for a part of
// the expected message fails, and `.empty()` asserts success). Other exceptions pass through.
std::string error_of(const std::function<void()>& f);

using OpFunction = std::function<Tensor(const std::vector<Tensor>&)>;

struct GradCheckReport {
  double max_error = 0.0;  // max |analytic - numeric| / max(1, |numeric|) over all checked inputs
  std::string worst;       // "input 1 element 17: analytic 0.3 numeric 0.31"
};

// Central differences in float64: for each input with requires_grad, each element is moved by
// +-eps and the scalar sum(f(x) * seed) re-evaluated; compares with the tape's gradient.
// `inputs` must be f64 CPU tensors; `seed` is drawn from `seed_value`.
GradCheckReport check_gradients(const OpFunction& f, const std::vector<Tensor>& inputs, uint64_t seed_value,
                                double eps = 1e-6);

}  // namespace rsd::test
