// Runs a generic lambda with the C++ element type of a floating dtype, among the two a backend
// computes in; any other dtype is refused with the op's name and what the backend supports:
//   dispatch_cpu_float(x.dtype(), "relu", [&](auto tag) { using T = typename decltype(tag)::type; ... });
// The CPU backend computes in f32 and f64 (here); CUDA in f32 and bf16 (engine/cuda/dispatch.h).
#pragma once
#include <utility>

#include "engine/dtype.h"
#include "engine/error.h"

namespace rsd {

template <typename T>
struct TypeTag {
  using type = T;
};

// f(TypeTag<A>) when t is a, f(TypeTag<B>) when t is b.
template <typename A, typename B, typename F>
void dispatch_two(DType t, DType a, DType b, const char* op, const char* backend, F&& f) {
  if (t == a) {
    f(TypeTag<A>{});
  } else if (t == b) {
    f(TypeTag<B>{});
  } else {
    fail(op, ": dtype ", dtype_name(t), " is not supported on the ", backend);
  }
}

template <typename F>
void dispatch_cpu_float(DType t, const char* op, F&& f) {
  dispatch_two<float, double>(t, DType::f32, DType::f64, op, "CPU backend (it computes in f32 and f64; cast first)",
                              std::forward<F>(f));
}

}  // namespace rsd
