// Elementwise type conversion between storage types. Host header: plain C++, no engine types.
#pragma once
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cstdint>

namespace rsd::kernels {

// y[i] = convert(x[i]) for i < n. Instantiated for every (Tin, Tout) pair among float, double,
// __nv_bfloat16, __half, int32_t, uint8_t (same-type pairs copy).
//   to bf16 / half: round to nearest even (CUDA intrinsics; from double in one rounding).
//   float / double / bf16 / half -> int32_t: truncation toward zero, like a C cast.
//   -> uint8_t: through int32_t, keeping the low 8 bits (exact for values in [0, 255]).
template <typename Tin, typename Tout>
void cast(const Tin* x, Tout* y, int64_t n, cudaStream_t s);

}  // namespace rsd::kernels
