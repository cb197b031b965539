#include "tests/support/harness.h"

#include <algorithm>
#include <cmath>

#include "engine/autograd.h"
#include "engine/error.h"
#include "kernels/philox.h"

namespace rsd::test {

Tensor random_tensor(const Shape& shape, DType dtype, Device device, uint64_t seed, double lo, double hi) {
  const int64_t n = shape_numel(shape);
  std::vector<double> values(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const kernels::Philox4 b = kernels::philox_block(seed, static_cast<uint64_t>(i));
    // 53 random bits: double-precision inputs for the float64 gradient checks.
    const uint64_t bits = (static_cast<uint64_t>(b.v[0]) << 21) ^ static_cast<uint64_t>(b.v[1] >> 11);
    const double u = static_cast<double>(bits & ((uint64_t{1} << 53) - 1)) / 9007199254740992.0;
    values[static_cast<size_t>(i)] = lo + (hi - lo) * u;
  }
  return Tensor::from_vector(values, shape, dtype, device);
}

Tensor random_labels(int64_t n, int classes, Device device, uint64_t seed) {
  std::vector<int32_t> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    labels[static_cast<size_t>(i)] =
        static_cast<int32_t>(kernels::philox_block(seed, static_cast<uint64_t>(i)).v[0] % static_cast<uint32_t>(classes));
  return Tensor::from_ints(labels, {n}, device);
}

double nmse(const std::vector<double>& ref, const std::vector<double>& got) {
  if (ref.size() != got.size()) return INFINITY;
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(got[i]) || !std::isfinite(ref[i])) return INFINITY;
    num += (ref[i] - got[i]) * (ref[i] - got[i]);
    den += ref[i] * ref[i];
  }
  return num / std::max(den, 1e-30 * static_cast<double>(std::max<size_t>(ref.size(), 1)));
}

double max_relative_error(const std::vector<double>& ref, const std::vector<double>& got, double floor,
                          size_t* where) {
  if (ref.size() != got.size()) return INFINITY;
  double worst = 0.0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double e = std::isfinite(got[i]) ? std::fabs(ref[i] - got[i]) / std::max(std::fabs(ref[i]), floor) : INFINITY;
    if (e > worst || std::isnan(e)) {
      worst = e;
      if (where) *where = i;
    }
  }
  return worst;
}

double scaled_max_error(const Tensor& ref, const Tensor& got, double floor) {
  const std::vector<double> r = ref.to_host_doubles(), g = got.to_host_doubles();
  double scale = floor;
  for (double v : r) scale = std::max(scale, std::fabs(v));
  return max_relative_error(r, g, scale);
}

namespace {
// sum(f(inputs) * seed) without recording.
double projected_output(const OpFunction& f, const std::vector<Tensor>& inputs, const std::vector<double>& seed) {
  NoGradScope no_grad;
  const std::vector<double> y = f(inputs).to_host_doubles();
  double s = 0.0;
  for (size_t i = 0; i < y.size(); ++i) s += y[i] * seed[i];
  return s;
}
}  // namespace

GradCheckReport check_gradients(const OpFunction& f, const std::vector<Tensor>& inputs, uint64_t seed_value,
                                double eps) {
  for (const Tensor& t : inputs) {
    RSD_CHECK(t.device().is_cpu(), "check_gradients: inputs must be on the CPU");
    if (t.requires_grad()) t.impl()->grad = Tensor();
  }
  Tensor y = f(inputs);
  Tensor seed = random_tensor(y.shape(), DType::f64, Device::cpu(), seed_value);
  const std::vector<double> seed_values = seed.to_host_doubles();
  backward(y, seed);

  GradCheckReport report;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& x = inputs[k];
    if (!x.requires_grad()) continue;
    RSD_CHECK(x.dtype() == DType::f64, "check_gradients: input ", k, " is ", x.describe(), ", not f64");
    const std::vector<double> analytic =
        x.grad().defined() ? x.grad().to_host_doubles() : std::vector<double>(static_cast<size_t>(x.numel()), 0.0);
    double* p = x.data<double>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double keep = p[i];
      p[i] = keep + eps;
      const double up = projected_output(f, inputs, seed_values);
      p[i] = keep - eps;
      const double down = projected_output(f, inputs, seed_values);
      p[i] = keep;
      const double numeric = (up - down) / (2 * eps);
      const double err = std::fabs(analytic[static_cast<size_t>(i)] - numeric) / std::max(1.0, std::fabs(numeric));
      if (!(err <= report.max_error)) {
        report.max_error = err;
        report.worst = str_cat("input ", k, " element ", i, ": analytic ", analytic[static_cast<size_t>(i)],
                               " numeric ", numeric);
      }
    }
  }
  return report;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace rsd::test
