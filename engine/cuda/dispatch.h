// The CUDA backend's counterpart of engine/dispatch.h: f32 and bf16 (bf16 storage, f32 arithmetic).
#pragma once
#include <cuda_bf16.h>

#include "engine/dispatch.h"

namespace rsd::cuda {

template <typename F>
decltype(auto) dispatch_float(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::f32: return f(TypeTag<float>{});
    case DType::bf16: return f(TypeTag<__nv_bfloat16>{});
    default: break;
  }
  fail(op, ": dtype ", dtype_name(t), " is not supported on the CUDA backend (f32 and bf16 are)");
}

}  // namespace rsd::cuda
