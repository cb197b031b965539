// Runs a generic lambda with the C++ element type of a floating dtype:
//   dispatch_cpu_float(x.dtype(), "relu", [&](auto tag) { using T = typename decltype(tag)::type; ... });
// The CPU backend computes in f32 and f64; other dtypes are refused with the op's name.
#pragma once
#include "engine/dtype.h"
#include "engine/error.h"

namespace rsd {

template <typename T>
struct TypeTag {
  using type = T;
};

template <typename F>
decltype(auto) dispatch_cpu_float(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::f32: return f(TypeTag<float>{});
    case DType::f64: return f(TypeTag<double>{});
    default: break;
  }
  fail(op, ": dtype ", dtype_name(t), " is not supported on the CPU backend (it computes in f32 and f64; cast first)");
}

}  // namespace rsd
