// Values of the element-wise ops against independent sources (closed forms evaluated with Python's
// math.erf / math.exp when this file was written): the gradient checks prove each backward
// consistent with its forward, these prove the forward itself.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"

using namespace rsd;

TEST_SUITE("ops") {
  TEST_CASE("gelu is x Phi(x) (exact, not the tanh approximation), its derivative Phi(x) + x phi(x)") {
    const std::vector<double> x = {-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0};
    const std::vector<double> y = {-0.00404969409489031, -0.15865525393145707, -0.15426876936299344, 0.0,
                                   0.34573123063700656,  0.8413447460685429,   1.9544997361036416};
    const std::vector<double> dy = {-0.011945647204183918, -0.08331547058768629, 0.13250487534383712, 0.5,
                                    0.8674951246561629,    1.0833154705876864,   1.085231801078197};
    for (DType dtype : {DType::f64, DType::f32}) {
      CAPTURE(dtype_name(dtype));
      const double tol = dtype == DType::f64 ? 1e-15 : 1e-6;
      Tensor in = Tensor::from_vector(x, {7}, dtype);
      in.set_requires_grad(true);
      const Tensor out = gelu(in);
      backward(sum(out));
      const std::vector<double> got = out.to_host_doubles(), grad = in.grad().to_host_doubles();
      for (size_t i = 0; i < x.size(); ++i) {
        CAPTURE(x[i]);
        CHECK(std::abs(got[i] - y[i]) <= tol * std::max(1.0, std::abs(y[i])));
        CHECK(std::abs(grad[i] - dy[i]) <= tol * std::max(1.0, std::abs(dy[i])));
      }
    }
  }
}
