// BYOL's normalized-projection cosine loss, fused: one pass over p and z per row gives the norms,
// the dot product, the row loss and the gradient for p. Also the plain path's two small kernels.
//
// The gradient, for one row (p, z in R^D), with np = max(|p|, eps), nz = max(|z|, eps):
//   L = 2 - 2 c,  c = <p, z> / (np nz).
// Where |p| > eps, np = |p| and d np/dp = p / np, so
//   dc/dp = z / (np nz) - <p, z> / (np^2 nz) * p / np = z / (np nz) - c p / np^2,
//   dL/dp = -2 z / (np nz) + 2 c p / np^2.
// Where |p| <= eps the clamped norm is the constant eps (the branch l2_normalize takes too), so
//   dL/dp = -2 z / (eps nz)   (= the formula above without its p term).
// z is the target: no gradient. A zero z row gives c = 0, L = 2 and dp = 0 (its z term is z
// itself); a zero p row gives c = 0, L = 2 and dp = -2 z / (eps nz), finite. The kernel writes
// dp = scale * (a z + b p) with a = -2 / (np nz), b = |p| > eps ? 2 c / np^2 : 0; the CPU op in
// engine/ops/cosine_loss.cpp is the same formula in double.
//
// Layout: a group of kGroup lanes (4..32, within one warp) owns a row; lane l holds the 16-byte
// vectors l, l + kGroup, ... of p and z (8 bf16 or 4 floats each; single elements when rows are
// not 16-byte aligned). Rows of up to kMaxChunks vectors per lane stay in registers between the
// sums and the gradient write, so p and z are read from memory exactly once; longer rows take a
// warp each and read p and z a second time for the gradient (from L2 while the row is recent).
#include "cosine_loss.cuh"

#include <cstdint>

#include "common.cuh"

namespace rsd::kernels {
namespace {

// Vectors per lane a row may have and still be held in registers: 4 x 16 bytes of p and of z,
// 32 registers. D up to 1024 bf16 or 512 floats (128 unaligned elements).
constexpr int kMaxChunks = 4;
// Loads of each of p and z a lane of the long-row kernel issues before it uses them.
constexpr int kLoopUnroll = 4;

// kVec consecutive elements of T, loaded and stored with one instruction.
template <typename T, int kVec>
struct Pack;

template <typename T>
struct Pack<T, 1> {
  T v;
  static __device__ __forceinline__ Pack load(const T* src) { return Pack{*src}; }
  static __device__ __forceinline__ Pack zero() { return Pack{from_float<T>(0.0f)}; }
  __device__ __forceinline__ float get(int) const { return to_float(v); }
  static __device__ __forceinline__ void store(T* dst, const float (&f)[1]) { *dst = from_float<T>(f[0]); }
};

template <>
struct Pack<float, 4> {
  float4 v;
  static __device__ __forceinline__ Pack load(const float* src) { return Pack{*reinterpret_cast<const float4*>(src)}; }
  static __device__ __forceinline__ Pack zero() { return Pack{make_float4(0.0f, 0.0f, 0.0f, 0.0f)}; }
  __device__ __forceinline__ float get(int i) const { return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w; }
  static __device__ __forceinline__ void store(float* dst, const float (&f)[4]) {
    *reinterpret_cast<float4*>(dst) = make_float4(f[0], f[1], f[2], f[3]);
  }
};

// Eight bf16 as four 32-bit words; element 2k is the low half of word k (little-endian).
template <>
struct Pack<__nv_bfloat16, 8> {
  uint4 v;
  static __device__ __forceinline__ Pack load(const __nv_bfloat16* src) {
    return Pack{*reinterpret_cast<const uint4*>(src)};
  }
  static __device__ __forceinline__ Pack zero() { return Pack{make_uint4(0u, 0u, 0u, 0u)}; }
  __device__ __forceinline__ float get(int i) const {
    const unsigned w = i < 2 ? v.x : i < 4 ? v.y : i < 6 ? v.z : v.w;
    return __uint_as_float(i % 2 == 0 ? w << 16 : w & 0xffff0000u);  // bf16 -> float is exact
  }
  static __device__ __forceinline__ void store(__nv_bfloat16* dst, const float (&f)[8]) {
    unsigned w[4];
#pragma unroll
    for (int k = 0; k < 4; ++k)
      w[k] = static_cast<unsigned>(__bfloat16_as_ushort(__float2bfloat16_rn(f[2 * k]))) |
             (static_cast<unsigned>(__bfloat16_as_ushort(__float2bfloat16_rn(f[2 * k + 1]))) << 16);
    *reinterpret_cast<uint4*>(dst) = make_uint4(w[0], w[1], w[2], w[3]);
  }
};

// Elements in one 16-byte vector of T.
template <typename T>
constexpr int kVec16 = static_cast<int>(16 / sizeof(T));

// Sum over the kGroup lanes that own a row (an aligned part of a warp); all of them get the total.
// Every lane of the warp must call it (full shuffle mask).
template <int kGroup>
__device__ __forceinline__ float group_sum(float v) {
  static_assert(kGroup >= 2 && kGroup <= 32 && (kGroup & (kGroup - 1)) == 0, "a power-of-two part of a warp");
#pragma unroll
  for (int m = kGroup / 2; m > 0; m >>= 1) v += __shfl_xor_sync(0xffffffffu, v, m);
  return v;
}

// What one row contributes: its loss, and dp = a z + b p.
struct RowTerms {
  float loss;
  float a;
  float b;
};

// pp = |p|^2, zz = |z|^2, pz = <p, z>; scale multiplies the gradient (see the derivation above).
__device__ __forceinline__ RowTerms row_terms(float pp, float zz, float pz, float eps, float scale) {
  const float norm_p = sqrtf(pp);
  const float inv_p = 1.0f / fmaxf(norm_p, eps);
  const float inv_z = 1.0f / fmaxf(sqrtf(zz), eps);
  const float cos = pz * inv_p * inv_z;
  RowTerms t;
  t.loss = 2.0f - 2.0f * cos;
  t.a = -2.0f * scale * inv_p * inv_z;
  t.b = norm_p > eps ? 2.0f * scale * cos * inv_p * inv_p : 0.0f;
  return t;
}

__device__ __forceinline__ float gradient_scale(float grad_scale, const float* grad_scale_device) {
  return grad_scale_device != nullptr ? grad_scale * grad_scale_device[0] : grad_scale;
}

// Rows held in registers. p, z, dp: (R, D), D = vecs * kVec; row_loss: (R). Block b takes rows
// b * kRowsPerBlock + threadIdx.x / kGroup, stepping by the grid; the loop bound `base < R` is the
// same for the whole block, so every lane reaches the shuffles (rows past R load zeros and write
// nothing).
template <typename T, int kVec, int kGroup, int kChunks>
__global__ void __launch_bounds__(kBlock)
    cosine_rows_regs_kernel(const T* __restrict__ p, const T* __restrict__ z, float* __restrict__ row_loss,
                            T* __restrict__ dp, int64_t R, int64_t D, float eps, float grad_scale,
                            const float* __restrict__ grad_scale_device) {
  using P = Pack<T, kVec>;
  constexpr int kRowsPerBlock = kBlock / kGroup;
  const int lane = static_cast<int>(threadIdx.x) % kGroup;
  const int64_t vecs = D / kVec;
  const float scale = gradient_scale(grad_scale, grad_scale_device);
  for (int64_t base = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock; base < R;
       base += static_cast<int64_t>(gridDim.x) * kRowsPerBlock) {
    const int64_t row = base + static_cast<int64_t>(threadIdx.x) / kGroup;
    const bool valid = row < R;
    const int64_t offset = valid ? row * D : 0;
    P pv[kChunks], zv[kChunks];
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
      const int64_t v = static_cast<int64_t>(c) * kGroup + lane;
      const bool in = valid && v < vecs;
      pv[c] = in ? P::load(p + offset + v * kVec) : P::zero();
      zv[c] = in ? P::load(z + offset + v * kVec) : P::zero();
    }
    float pp = 0.0f, zz = 0.0f, pz = 0.0f;
#pragma unroll
    for (int c = 0; c < kChunks; ++c)
#pragma unroll
      for (int i = 0; i < kVec; ++i) {
        const float pf = pv[c].get(i), zf = zv[c].get(i);
        pp += pf * pf;
        zz += zf * zf;
        pz += pf * zf;
      }
    const RowTerms t = row_terms(group_sum<kGroup>(pp), group_sum<kGroup>(zz), group_sum<kGroup>(pz), eps, scale);
    if (row_loss != nullptr && valid && lane == 0) row_loss[row] = t.loss;
    if (dp == nullptr || !valid) continue;
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
      const int64_t v = static_cast<int64_t>(c) * kGroup + lane;
      if (v >= vecs) continue;
      float g[kVec];
#pragma unroll
      for (int i = 0; i < kVec; ++i) g[i] = t.a * zv[c].get(i) + t.b * pv[c].get(i);
      P::store(dp + offset + v * kVec, g);
    }
  }
}

// Long rows: a warp each. The sums read the row in steps of kLoopUnroll * 32 vectors; the
// gradient pass reads it again. Same ownership and uniform loop bounds as the register kernel.
template <typename T, int kVec>
__global__ void cosine_rows_loop_kernel(const T* __restrict__ p, const T* __restrict__ z, float* __restrict__ row_loss,
                            T* __restrict__ dp, int64_t R, int64_t D, float eps, float grad_scale,
                            const float* __restrict__ grad_scale_device) {
  using P = Pack<T, kVec>;
  constexpr int kRowsPerBlock = kBlock / 32;
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int64_t vecs = D / kVec;
  const float scale = gradient_scale(grad_scale, grad_scale_device);
  for (int64_t base = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock; base < R;
       base += static_cast<int64_t>(gridDim.x) * kRowsPerBlock) {
    const int64_t row = base + static_cast<int64_t>(threadIdx.x) / 32;
    const bool valid = row < R;
    const int64_t offset = valid ? row * D : 0;
    float pp = 0.0f, zz = 0.0f, pz = 0.0f;
    for (int64_t v0 = 0; v0 < vecs; v0 += kLoopUnroll * 32) {
      P pv[kLoopUnroll], zv[kLoopUnroll];
#pragma unroll
      for (int k = 0; k < kLoopUnroll; ++k) {
        const int64_t v = v0 + k * 32 + lane;
        const bool in = valid && v < vecs;
        pv[k] = in ? P::load(p + offset + v * kVec) : P::zero();
        zv[k] = in ? P::load(z + offset + v * kVec) : P::zero();
      }
#pragma unroll
      for (int k = 0; k < kLoopUnroll; ++k)
#pragma unroll
        for (int i = 0; i < kVec; ++i) {
          const float pf = pv[k].get(i), zf = zv[k].get(i);
          pp += pf * pf;
          zz += zf * zf;
          pz += pf * zf;
        }
    }
    const RowTerms t = row_terms(group_sum<32>(pp), group_sum<32>(zz), group_sum<32>(pz), eps, scale);
    if (row_loss != nullptr && valid && lane == 0) row_loss[row] = t.loss;
    if (dp == nullptr || !valid) continue;
    for (int64_t v = lane; v < vecs; v += 32) {
      const P pk = P::load(p + offset + v * kVec), zk = P::load(z + offset + v * kVec);
      float g[kVec];
#pragma unroll
      for (int i = 0; i < kVec; ++i) g[i] = t.a * zk.get(i) + t.b * pk.get(i);
      P::store(dp + offset + v * kVec, g);
    }
  }
}

int row_blocks(int64_t R, int rows_per_block) {
  return static_cast<int>(std::min<int64_t>(ceil_div(R, rows_per_block), kMaxBlocks));
}

template <typename T>
struct RowArgs {
  const T* p;
  const T* z;
  float* row_loss;
  T* dp;
  int64_t R;
  int64_t D;
  float eps;
  float grad_scale;
  const float* grad_scale_device;
};

template <typename T, int kVec, int kGroup, int kChunks>
void launch_regs(const RowArgs<T>& a, cudaStream_t s) {
  cosine_rows_regs_kernel<T, kVec, kGroup, kChunks><<<row_blocks(a.R, kBlock / kGroup), kBlock, 0, s>>>(
      a.p, a.z, a.row_loss, a.dp, a.R, a.D, a.eps, a.grad_scale, a.grad_scale_device);
}

// The smallest group (4..32 lanes) that covers a row with one vector per lane; rows of more than
// 32 vectors take a warp and 2 or 4 vectors per lane; beyond 32 * kMaxChunks, the loop kernel.
template <typename T, int kVec>
void launch_rows(const RowArgs<T>& a, cudaStream_t s) {
  static_assert(kMaxChunks == 4, "the cases below cover chunks 1, 2 and 4");
  const int64_t vecs = a.D / kVec;
  if (vecs <= 4) {
    launch_regs<T, kVec, 4, 1>(a, s);
  } else if (vecs <= 8) {
    launch_regs<T, kVec, 8, 1>(a, s);
  } else if (vecs <= 16) {
    launch_regs<T, kVec, 16, 1>(a, s);
  } else if (vecs <= 32) {
    launch_regs<T, kVec, 32, 1>(a, s);
  } else if (vecs <= 64) {
    launch_regs<T, kVec, 32, 2>(a, s);
  } else if (vecs <= 32 * kMaxChunks) {
    launch_regs<T, kVec, 32, kMaxChunks>(a, s);
  } else {
    cosine_rows_loop_kernel<T, kVec><<<row_blocks(a.R, kBlock / 32), kBlock, 0, s>>>(
        a.p, a.z, a.row_loss, a.dp, a.R, a.D, a.eps, a.grad_scale, a.grad_scale_device);
  }
}

bool aligned16(const void* q) { return reinterpret_cast<uintptr_t>(q) % 16 == 0; }

// One warp per row: lane j adds phat[r, j + 32 k] * zhat[r, j + 32 k] in order of k, then the warp
// sums. Plain on purpose: scalar loads, no fusion.
template <typename T>
__global__ void plain_row_loss_kernel(const T* phat, const T* zhat, float* row_loss, int64_t R, int64_t D) {
  constexpr int kWarps = kBlock / 32;
  const int lane = static_cast<int>(threadIdx.x) % 32;
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32; r < R;
       r += static_cast<int64_t>(gridDim.x) * kWarps) {
    float dot = 0.0f;
    for (int64_t j = lane; j < D; j += 32) dot += to_float(phat[r * D + j]) * to_float(zhat[r * D + j]);
    dot = warp_sum(dot);
    if (lane == 0) row_loss[r] = 2.0f - 2.0f * dot;
  }
}

template <typename T>
__global__ void plain_grad_normalized_kernel(const T* zhat, T* dphat, int64_t n, float grad_scale,
                                             const float* grad_scale_device) {
  const float scale = -2.0f * gradient_scale(grad_scale, grad_scale_device);
  for (int64_t i = global_thread(); i < n; i += grid_threads()) dphat[i] = from_float<T>(scale * to_float(zhat[i]));
}

}  // namespace

template <typename T>
void cosine_loss_rows(const T* p, const T* z, float* row_loss, T* dp, int64_t R, int64_t D, float eps,
                      float grad_scale, const float* grad_scale_device, cudaStream_t s) {
  if (R <= 0 || D <= 0 || (row_loss == nullptr && dp == nullptr)) return;
  const RowArgs<T> a{p, z, row_loss, dp, R, D, eps, grad_scale, grad_scale_device};
  const bool vectors = D % kVec16<T> == 0 && aligned16(p) && aligned16(z) && (dp == nullptr || aligned16(dp));
  if (vectors) {
    launch_rows<T, kVec16<T>>(a, s);
  } else {
    launch_rows<T, 1>(a, s);
  }
}

template <typename T>
void plain_cosine_row_loss(const T* phat, const T* zhat, float* row_loss, int64_t R, int64_t D, cudaStream_t s) {
  if (R <= 0) return;
  plain_row_loss_kernel<T><<<row_blocks(R, kBlock / 32), kBlock, 0, s>>>(phat, zhat, row_loss, R, D);
}

template <typename T>
void plain_cosine_grad_normalized(const T* zhat, T* dphat, int64_t n, float grad_scale,
                                  const float* grad_scale_device, cudaStream_t s) {
  if (n <= 0) return;
  plain_grad_normalized_kernel<T><<<grid_for(n), kBlock, 0, s>>>(zhat, dphat, n, grad_scale, grad_scale_device);
}

#define RSD_INSTANTIATE_COSINE_LOSS(T)                                                                       \
  template void cosine_loss_rows<T>(const T*, const T*, float*, T*, int64_t, int64_t, float, float, const float*, \
                                    cudaStream_t);                                                           \
  template void plain_cosine_row_loss<T>(const T*, const T*, float*, int64_t, int64_t, cudaStream_t);         \
  template void plain_cosine_grad_normalized<T>(const T*, T*, int64_t, float, const float*, cudaStream_t);

RSD_INSTANTIATE_COSINE_LOSS(float)
RSD_INSTANTIATE_COSINE_LOSS(__nv_bfloat16)

#undef RSD_INSTANTIATE_COSINE_LOSS

}  // namespace rsd::kernels
