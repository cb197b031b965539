// Elementwise kernels (kernels/elementwise.cu) on the CPU emulator (tests/emulation/simt.h)
// against the engine's CPU reference in float64 (tests/emulation/cpu_oracle.h), f32 and bf16
// (fill, a constant, in every dtype against the CPU's fill): every launcher on 16-byte aligned pointers (the packed path:
// 16-byte packs, then the n % (16 / sizeof(T)) tail element by element) and on pointers one
// element off (the element path), n below one pack, a few packs and a few hundred blocks; add and
// accumulate in place (y aliases an input); relu of NaN and -0; the element path's grid-stride
// loop (2^24 + 1001 elements, relu and add, f32); gelu forward and backward.
//
// Bounds: relu, relu_backward, fill are exact. add, scale, exp_backward and fill_from_scalar are
// one f32 operation on exact inputs ("computed in float"), then the store: exactly
// T(f32(a op b)). A product of two f32 values is exact in float64, and so is the sum of two of
// these inputs (normal draws, exponents far less than 29 apart), so f32(double result) is the
// f32 operation; a product of two bf16 values is exact in f32. exp: kF32Tol relative (the
// device's expf is within 2 ulp), plus one bf16 rounding (test_emulated_checks.h).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "engine/tensor.h"
#include "kernels/elementwise.cuh"
#include "tests/emulation/cpu_oracle.h"
#include "tests/emulation/device_array.h"
#include "tests/emulation/test_emulated_checks.h"

using namespace rsd;
using namespace rsd::test;

namespace {

// The value a kernel stores for an f32 result r: T(f32(r)).
template <typename T>
std::vector<double> via_float(const std::vector<double>& r) {
  return rounded<T>(rounded<float>(r));
}

// n elements of T starting one element past a 16-byte boundary when `shift`; poisoned until
// written (the element before them is never touched).
template <typename T>
class Buffer {
 public:
  Buffer(int64_t n, bool shift) : shift_(shift ? 1 : 0), a_(n + shift_) {}
  Buffer(const std::vector<double>& v, bool shift) : Buffer(static_cast<int64_t>(v.size()), shift) {
    for (size_t i = 0; i < v.size(); ++i) get()[i] = to_storage<T>(v[i]);
  }
  T* get() const { return a_.get() + shift_; }
  std::vector<double> doubles() const {
    const std::vector<double> all = a_.doubles();
    return std::vector<double>(all.begin() + shift_, all.end());
  }

 private:
  int64_t shift_;
  DeviceArray<T> a_;
};

template <typename T>
void check_elementwise(int64_t n, bool shift, uint64_t seed) {
  const bool f32 = std::is_same_v<T, float>;
  CAPTURE(n);
  CAPTURE(shift);
  CAPTURE(f32);
  std::vector<double> av = normal_values(n, seed);
  if (n > 2) {
    av[0] = NAN;
    av[1] = -0.0;
  }
  const std::vector<double> a = rounded<T>(av), b = rounded<T>(normal_values(n, seed + 1));

  {  // relu forward and backward (gx = gy where x > 0, with x = a, gy = b; the reference reads
     // y = relu(x), which is positive where x is)
    Buffer<T> x(a, shift), y(n, shift), gy(b, shift), gx(n, shift);
    kernels::relu_forward<T>(x.get(), y.get(), n, nullptr);
    check_exact("relu", y.doubles(), oracle::relu(a));
    kernels::relu_backward<T>(x.get(), gy.get(), gx.get(), n, nullptr);
    check_exact("relu_backward", gx.doubles(), oracle::relu_backward(a, b));
  }
  {  // gelu forward and backward (from x). erff and expf are within 2 ulp, but 1 + erf(x / sqrt(2))
     // cancels for negative x: the error is absolute, of the order of |x| (forward) and of
     // |gy| (1 + |x|) (backward) times f32's epsilon, plus the output's rounding.
    const std::vector<double> x = rounded<T>(normal_values(n, seed + 3, 0.0, 2.0));
    std::vector<double> x_scale(x.size()), g_scale(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      x_scale[i] = std::fabs(x[i]);
      g_scale[i] = std::fabs(b[i]) * (1.0 + std::fabs(x[i]));
    }
    Buffer<T> dx(x, shift), y(n, shift), gy(b, shift), gx(n, shift);
    kernels::gelu_forward<T>(dx.get(), y.get(), n, nullptr);
    check_within("gelu", y.doubles(), oracle::gelu(x), x_scale, output_rounding<T>(), kF32Tol);
    kernels::gelu_backward<T>(dx.get(), gy.get(), gx.get(), n, nullptr);
    check_within("gelu_backward", gx.doubles(), oracle::gelu_backward(x, b), g_scale, output_rounding<T>(), kF32Tol);
  }
  {  // exp forward; backward gx = gy * y with y = exp(x) given
    const std::vector<double> x = rounded<T>(normal_values(n, seed + 2));
    Buffer<T> dx(x, shift), y(n, shift);
    kernels::exp_forward<T>(dx.get(), y.get(), n, nullptr);
    const std::vector<double> want = oracle::exp(x);
    check_within("exp", y.doubles(), want, want, output_rounding<T>(), kF32Tol);
    const std::vector<double> yv = rounded<T>(want);
    Buffer<T> dy(yv, shift), gy(b, shift), gx(n, shift);
    kernels::exp_backward<T>(dy.get(), gy.get(), gx.get(), n, nullptr);
    check_exact("exp_backward", gx.doubles(), via_float<T>(oracle::exp_backward(yv, b)));
  }
  {  // scale
    const float s = -1.3f;
    Buffer<T> x(b, shift), y(n, shift);
    kernels::scale<T>(x.get(), s, y.get(), n, nullptr);
    check_exact("scale", y.doubles(), via_float<T>(oracle::scale(b, s)));
  }
  {  // add out of place and in place (y = a), accumulate (dst += src)
    const std::vector<double> want = via_float<T>(oracle::add(a, b));
    Buffer<T> da(a, shift), db(b, shift), y(n, shift);
    kernels::add<T>(da.get(), db.get(), y.get(), n, nullptr);
    check_exact("add", y.doubles(), want);
    kernels::add<T>(da.get(), db.get(), da.get(), n, nullptr);
    check_exact("add in place", da.doubles(), want);
    Buffer<T> dst(a, shift);
    kernels::accumulate<T>(dst.get(), db.get(), n, nullptr);
    check_exact("accumulate", dst.doubles(), want);
  }
  {  // fill, fill_from_scalar (the scalar outside y: the backward of a scaled sum)
    Buffer<T> y(n, shift);
    kernels::fill<T>(y.get(), 2.7f, n, nullptr);  // 2.7f as a double: stored as T(2.7f)
    check_exact("fill", y.doubles(), std::vector<double>(static_cast<size_t>(n), to_double(to_storage<T>(2.7f))));
    Buffer<T> scalar(std::vector<double>{b[0]}, false);
    kernels::fill_from_scalar<T>(scalar.get(), 3.1f, y.get(), n, nullptr);
    check_exact("fill_from_scalar", y.doubles(),
                via_float<T>(oracle::broadcast_scalar(to_double(scalar.get()[0]), static_cast<double>(3.1f), n)));
  }
}

// fill<T> of n elements against the engine's CPU fill of a `dtype` tensor.
template <typename T>
void check_fill(double value, int64_t n, DType dtype) {
  CAPTURE(dtype_name(dtype));
  DeviceArray<T> y(n);
  kernels::fill<T>(y.get(), value, n, nullptr);
  check_exact("fill", y.doubles(), Tensor::full({n}, value, dtype).to_host_doubles());
}

}  // namespace

TEST_SUITE("emulated") {
  TEST_CASE("elementwise kernels on the emulator: packed and element paths (f32, bf16) match float64") {
    uint64_t seed = 6000;
    for (const int64_t n : {int64_t{1}, int64_t{3}, int64_t{7}, int64_t{1000}, int64_t{100003}}) {
      for (const bool shift : {false, true}) {
        check_elementwise<float>(n, shift, seed);
        check_elementwise<__nv_bfloat16>(n, shift, seed);
        seed += 3;
      }
    }
  }

  TEST_CASE("elementwise kernels on the emulator: the grid-stride loops (more than 65536 blocks of 256 threads)") {
    // The element path (pointers one element off) of the one- and two-input kernels: 2^24 + 1001
    // elements, so the first 1001 threads take a second pass (f32; the loops do not depend on T).
    // The inputs repeat a prime number of values (a read one grid stride off shows).
    const int64_t n = int64_t{65536} * 256 + 1001;
    const std::vector<double> a0 = rounded<float>(normal_values(4099, 6500)),
                              b0 = rounded<float>(normal_values(4099, 6501));
    std::vector<double> a(static_cast<size_t>(n)), b(a.size());
    for (size_t i = 0; i < a.size(); ++i) {
      a[i] = a0[i % a0.size()];
      b[i] = b0[i % b0.size()];
    }
    Buffer<float> da(a, true), db(b, true), y(n, true);
    kernels::relu_forward<float>(da.get(), y.get(), n, nullptr);
    check_exact("relu", y.doubles(), oracle::relu(a));
    kernels::add<float>(da.get(), db.get(), y.get(), n, nullptr);
    check_exact("add", y.doubles(), rounded<float>(oracle::add(a, b)));
  }

  TEST_CASE("elementwise kernels on the emulator: fill stores a double as the CPU fill does (every dtype)") {
    // The CPU's Tensor::full is the reference; 0.1, 1e-40 (below float's range) and 2^24 + 1 (not a
    // float) show a value that went through float on the way to an f64 or int32 tensor.
    const std::vector<double> values{0.1, -2.7, 3.9, 1e-40, 16777217.0, 1.0 / 3.0};
    for (const int64_t n : {int64_t{1}, int64_t{1000}, int64_t{70001}}) {
      CAPTURE(n);
      for (const double v : values) {
        CAPTURE(v);
        check_fill<float>(v, n, DType::f32);
        check_fill<double>(v, n, DType::f64);
        check_fill<__nv_bfloat16>(v, n, DType::bf16);
        check_fill<__half>(v, n, DType::f16);
        check_fill<int32_t>(v, n, DType::i32);
        if (v >= 0.0 && v < 256.0) check_fill<uint8_t>(v, n, DType::u8);  // the CPU's cast is defined there
      }
    }
    DeviceArray<double> y(3);
    kernels::fill<double>(y.get(), 0.1, 3, nullptr);
    for (const double got : y.doubles()) CHECK(got == 0.1);
    DeviceArray<int32_t> i(2);
    kernels::fill<int32_t>(i.get(), -2.7, 2, nullptr);
    check_exact("fill int32 -2.7 (toward zero)", i.doubles(), {-2.0, -2.0});
  }
}
