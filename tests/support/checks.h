// Small doctest helpers shared by the test files: leaves for autograd, element-wise closeness, and
// the check that a bad use throws an rsd::Error naming what a user needs to fix. Header-only: the
// CHECK macros need the doctest runner of rsd_tests, which the benchmarks (sharing the op cases)
// do not link.
#pragma once
#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/tensor.h"

namespace rsd::test {

// A tensor that collects gradients: the values v in `shape`.
inline Tensor leaf(const std::vector<double>& v, const Shape& shape, DType dtype = DType::f64,
                   Device device = Device::cpu()) {
  Tensor t = Tensor::from_vector(v, shape, dtype, device);
  t.set_requires_grad(true);
  return t;
}
inline Tensor leaf(Tensor t) {
  t.set_requires_grad(true);
  return t;
}

// got[i] == want[i] to a relative `tol`, element by element (the index is captured on failure).
inline void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol = 1e-9) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i] == doctest::Approx(want[i]).epsilon(tol));
  }
}

// f() must throw rsd::Error whose message contains every part (say the op's name and the
// describe() string of the offending tensor). The tape is cleared after: an op that fails may
// leave recorded nodes of the ops before it.
inline void check_error(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
    std::string expected;
    for (const std::string& part : parts) expected += " '" + part + "'";
    FAIL("no rsd::Error thrown; expected one naming" << expected);
  } catch (const Error& e) {
    const std::string message = e.what();
    INFO(message);
    for (const std::string& part : parts) CHECK(message.find(part) != std::string::npos);
  }
  tape().clear();
}

}  // namespace rsd::test
