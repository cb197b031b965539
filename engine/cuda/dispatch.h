// The CUDA backend's counterpart of engine/dispatch.h: f32 and bf16 (bf16 storage, f32 arithmetic).
#pragma once
#include <cuda_bf16.h>

#include <utility>

#include "engine/dispatch.h"

namespace rsd::cuda {

template <typename F>
void dispatch_float(DType t, const char* op, F&& f) {
  dispatch_two<float, __nv_bfloat16>(t, DType::f32, DType::bf16, op, "CUDA backend (f32 and bf16 are)",
                                     std::forward<F>(f));
}

}  // namespace rsd::cuda
