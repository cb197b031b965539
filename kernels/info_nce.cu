// InfoNCE loss kernels. The CPU reference is engine/ops/info_nce.cpp (cpu::info_nce_forward and
// cpu::info_nce_backward); definitions in engine/ops/info_nce.h.
//
// ---- Fused path: design ------------------------------------------------------------------------
// A pass owns rows of one operand ("x") and sweeps the rows of the other ("y") tile by tile, in
// the manner of FlashAttention / Inf-CL: a block owns kBM x rows (16 per warp) and loops over
// tiles of kBN = 64 y rows; each warp computes its 16 x 64 tile of S on the tensor cores (bf16:
// mma.sync m16n8k16, bf16 in, f32 accumulate, operands through ldmatrix) or in f32 FMA (f32
// inputs: TF32 would miss the 1e-5 target), and folds it into per-row state in registers. The
// N x M logits never reach memory; extra memory is O((N + M) D) (see info_nce_splits).
//
// Normalization is folded into the tiles instead of materializing a_hat and b_hat: the MMA reads
// the raw inputs and the f32 accumulator is scaled by sigma_x sigma_y, sigma_r =
// sqrt(log2(e) / tau) / max(|r|, eps). So S never sees a bf16 rounding of a_hat (only the inputs'
// own), no normalized copy is written, and because sigma_x sigma_y is symmetric the two passes
// compute bitwise the same S_ij for the same pair (the column pass swaps the operands). S is in
// log2 units (exp2 is the hardware instruction); the results convert back.
//
// Tiles: bf16 8 warps (kBM = 128 x rows, 256 threads), f32 4 warps (kBM = 64, 128 threads). D is
// processed in chunks of kDC = 64, 128 or 256 (a template parameter, the smallest that holds D;
// the MMA loop stops at D rounded up to 16, padded with zeros in shared memory). With one chunk
// the x tile stays in shared memory for the whole sweep and the y tiles are double-buffered with
// cp.async (16-byte copies when D is a multiple of 8 (bf16) or 4 (f32), element copies
// otherwise). D > 256 reloads x and y per chunk without the pipeline (a fallback, slower). Shared
// rows are padded by 16 bytes so that the 8 rows an ldmatrix or float4 phase reads fall on
// distinct banks. Shared memory at kDC = 256: bf16 133 KB, f32 213 KB (with its G' stage): one
// block per SM for the backward (252-254 registers a thread, no spills), as FlashAttention-2
// runs at head dimension 256; the forward kernels are capped at 128 registers so that two blocks
// fit where shared memory allows (kDC <= 128).
//
// Column direction: a second pass, the same kernel with the roles swapped: x = the N positive
// rows b[offset, offset + N), y = a. A same-pass column reduction would need, per column, the
// running max and sum of every row tile: (N / kBM) x M partial pairs (O(N M / 128) memory, not
// O(N + M)) or ordered cross-block merges (spin-waits between blocks). The second pass costs one
// more S product over N x N (a sixth of the forward + backward work when M = N) and keeps every
// reduction inside one block, deterministic and O(N) in memory.
//
// Splits: when N / kBM blocks cannot fill the device (N small, or the distributed case N << M),
// the y range is split across blockIdx.y (info_nce_splits); each split writes partial state and a
// small kernel merges the splits in order. No atomics anywhere: every result is deterministic.
//
// Backward: G_ij = dL/dS_ij = w_r (p_ij - [j == offset + i]) + w_c (q_ij - [j == offset + i])
// (q only on the positive columns), recomputed tile by tile from S and the saved lse vectors.
//   rows pass: x = a, y = b: d a_hat_i = (1/tau) sum_j G_ij b_hat_j, and sum_ij G_ij S_ij (dtau)
//   cols pass: x = b, y = a: d b_hat_j = (1/tau) sum_i G_ij a_hat_i (on every column of S)
// Each block accumulates its rows of d x_hat (16 x D per warp, in registers) over its split of
// y, so d a_hat and d b_hat need no atomics; the price is recomputing S in both passes. The second
// product uses G' = G sigma_y ln2 = G / (tau max(|y|, eps)) with the raw y tile: in the bf16 path
// G' is rounded to bf16 and fed straight from the accumulator registers to the A operand of the
// next mma (the m16n8 accumulator layout of two adjacent n-tiles is the m16k16 A layout), with
// y through ldmatrix.trans. bf16's 8 exponent bits hold any G' (no overflow, unlike f16); its
// 2^-9 relative rounding acts on terms that are summed in f32, so the gradient keeps ~3 digits,
// the precision its bf16 output has anyway. The f32 path keeps G' in f32 (staged per warp in
// shared memory) and sums in f32 FMA. The normalization's backward runs in info_nce_grad_finish.
#include "info_nce.cuh"

#include <cstring>
#include <type_traits>

#include "common.cuh"
#include "ptx.cuh"

namespace rsd::kernels {
namespace {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;
constexpr int kBN = 64;        // looped (y) rows per tile
constexpr int kWarpRows = 16;  // owned (x) rows per warp
constexpr int kMaxDC = 256;    // the widest D chunk
constexpr int kMaxSplits = 64;

// Per element type: warps per block and the padding of a shared row (16 bytes).
template <typename T>
struct Cfg;
template <>
struct Cfg<__nv_bfloat16> {
  static constexpr int kWarps = 8;
  static constexpr int kPad = 8;
};
template <>
struct Cfg<float> {
  static constexpr int kWarps = 4;
  static constexpr int kPad = 4;
};

// The shared-memory layout of a fused block: the x tile (kBM, kLd), two y stages (kBN, kLd), per
// stage the y rows' scale sigma and lse, and (f32) one G' tile per warp.
template <typename T, int kDC>
struct Tiles {
  static constexpr int kWarps = Cfg<T>::kWarps;
  static constexpr int kThreads = 32 * kWarps;
  static constexpr int kBM = kWarpRows * kWarps;
  static constexpr int kLd = kDC + Cfg<T>::kPad;
  static constexpr int kDT = kDC / 8;  // n8 tiles of one d x_hat row chunk
  static constexpr bool kStageG = std::is_same<T, float>::value;
  static constexpr int kGLd = kBN + 4;
  static constexpr size_t kXBytes = sizeof(T) * kBM * kLd;
  static constexpr size_t kYBytes = sizeof(T) * kBN * kLd;
  static constexpr size_t kColBytes = sizeof(float) * kBN;
  static constexpr size_t kGBytes = kStageG ? sizeof(float) * kWarps * kWarpRows * kGLd : 0;
  static constexpr size_t kBytes = kXBytes + 2 * kYBytes + 4 * kColBytes + kGBytes;
  static_assert(kXBytes % 16 == 0 && kYBytes % 16 == 0 && kColBytes % 16 == 0, "16-byte aligned sections");

  T* x;
  char* rest;  // the y stages, then the scale and lse stages, then the G' stage

  __device__ explicit Tiles(char* base) : x(reinterpret_cast<T*>(base)), rest(base + kXBytes) {}
  // Stages are addressed arithmetically: an array of pointers indexed by a run-time stage would
  // live in local memory.
  __device__ T* y(int stage) const { return reinterpret_cast<T*>(rest + stage * kYBytes); }
  __device__ float* scale(int stage) const {
    return reinterpret_cast<float*>(rest + 2 * kYBytes + stage * kColBytes);
  }
  __device__ float* lse(int stage) const {
    return reinterpret_cast<float*>(rest + 2 * kYBytes + (2 + stage) * kColBytes);
  }
  __device__ float* g() const { return reinterpret_cast<float*>(rest + 2 * kYBytes + 4 * kColBytes); }
};

// lse values of a range of rows: v[j - begin] for j in [begin, end), +inf elsewhere (a term
// exp2(S - inf) = 0: no column-direction term outside the positive columns).
struct Band {
  const float* v;
  int64_t begin, end;
  __device__ float at(int64_t j) const { return (v != nullptr && j >= begin && j < end) ? v[j - begin] : INFINITY; }
};

// One fused pass in terms of owned rows x and looped rows y. S element (x row r, y row c) is a
// positive when c == r + diag. tiles_per_split: y tiles per blockIdx.y.
template <typename T>
struct FusedArgs {
  const T* x;
  const T* y;
  const float* norms_x;
  const float* norms_y;
  int64_t rows_x, rows_y, D, diag, tiles_per_split;
  const float* tau;
  float eps;
  bool vec_x, vec_y;  // 16-byte copies are allowed
  // Backward only.
  Band lse_x, lse_y;
  const float* gloss;
  int64_t N;
  bool symmetric, x_is_a;
};

__device__ __forceinline__ int round16(int64_t n) { return static_cast<int>((n + 15) / 16 * 16); }

// sigma = sqrt(log2(e) / tau) / max(norm, eps); root = sqrt(log2(e) / tau). Both operands of S
// use this one function, so sigma_x sigma_y is the same product in every pass.
__device__ __forceinline__ float sigma(float norm, float eps, float root) { return root / fmaxf(norm, eps); }

// ---- copies into shared memory ----

// dst (kRows, kLd) = src rows [row0, row0 + kRows) and columns [c0, c0 + kpad) of src (rows, D),
// zeros outside the rows and beyond D. vec: D and the base are 16-byte aligned (cp.async);
// otherwise element copies through registers.
// The (row, unit) pairs of a thread step by kThreads units through a (kRows, units) grid; the
// position advances by adds, not one division per unit.
template <int kRows, int kThreads, typename F>
__device__ __forceinline__ void for_each_unit(int units, F&& f) {
  const int dr = kThreads / units, du = kThreads - dr * units;
  int r = threadIdx.x / units, u = threadIdx.x - r * units;
  while (r < kRows) {
    f(r, u);
    r += dr;
    u += du;
    if (u >= units) {
      u -= units;
      ++r;
    }
  }
}

template <typename T, int kRows, int kLd, int kThreads>
__device__ __forceinline__ void load_tile(T* dst, const T* src, int64_t row0, int64_t rows, int64_t D, int64_t c0,
                                          int kpad, bool vec) {
  if (vec) {
    constexpr int kV = 16 / static_cast<int>(sizeof(T));
    for_each_unit<kRows, kThreads>(kpad / kV, [&](int r, int seg) {
      const int64_t gr = row0 + r, gc = c0 + static_cast<int64_t>(seg) * kV;
      const bool ok = gr < rows && gc < D;
      cp_async16(dst + r * kLd + seg * kV, ok ? src + gr * D + gc : src, ok);
    });
  } else {
    for_each_unit<kRows, kThreads>(kpad, [&](int r, int cc) {
      const int64_t gr = row0 + r, gc = c0 + cc;
      dst[r * kLd + cc] = (gr < rows && gc < D) ? src[gr * D + gc] : from_float<T>(0.0f);
    });
  }
}

// The looped rows' sigma (0 past the end) and lse (+inf past the end) for the tile at y0.
template <typename T, int kThreads>
__device__ __forceinline__ void load_columns(float* scale, float* lse, const FusedArgs<T>& p, int64_t y0, float root) {
  for (int c = threadIdx.x; c < kBN; c += kThreads) {
    const int64_t j = y0 + c;
    const bool ok = j < p.rows_y;
    scale[c] = ok ? sigma(p.norms_y[j], p.eps, root) : 0.0f;
    lse[c] = ok ? p.lse_y.at(j) : INFINITY;
  }
}

// ---- tile products ----
// Accumulator layout (both paths; the mma.sync m16n8 C layout): a warp's 16 x 64 tile is 8
// n-tiles of 16 x 8; lane l holds, in acc[nt][e], row (l / 4) + 8 (e / 2) and column
// 8 nt + 2 (l % 4) + (e % 2).

// Two floats as a bf16 pair, lo in the low half (the lower column of an mma fragment).
__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  uint32_t u;
  memcpy(&u, &v, sizeof(u));
  return u;
}

// acc += x rows [16 warp, 16 warp + 16) . y rows [0, 64), over columns [0, kpad).
// bf16: per 16 columns one ldmatrix.x4 of x (the A fragment: matrices rows 0-7 / 8-15 x
// columns 0-7 / 8-15) and per pair of n-tiles one ldmatrix.x4 of y (B fragments of n-tiles 2np
// and 2np + 1: y rows are B's columns, so no transpose).
template <int kLd>
__device__ __forceinline__ void tile_s(float (&acc)[8][4], const __nv_bfloat16* sx, const __nv_bfloat16* sy, int kpad,
                                       int warp, int lane) {
  const int g = lane >> 3, r = lane & 7;
  const __nv_bfloat16* xa = sx + (warp * kWarpRows + (g & 1) * 8 + r) * kLd + (g >> 1) * 8;
  const __nv_bfloat16* yb = sy + ((g >> 1) * 8 + r) * kLd + (g & 1) * 8;
  for (int k = 0; k < kpad; k += 16) {
    uint32_t a[4];
    ldsm_x4(a, xa + k);
#pragma unroll
    for (int np = 0; np < 4; ++np) {
      uint32_t b[4];
      ldsm_x4(b, yb + np * 16 * kLd + k);
      mma_bf16(acc[2 * np], a, b[0], b[1]);
      mma_bf16(acc[2 * np + 1], a, b[2], b[3]);
    }
  }
}

__device__ __forceinline__ float dot4(const float4& x, const float4& y, float c) {
  return fmaf(x.w, y.w, fmaf(x.z, y.z, fmaf(x.y, y.y, fmaf(x.x, y.x, c))));
}

// f32: the same tile in FMA, four columns per step (float4 shared loads). fmaf(x, y, c) is
// symmetric in x and y, so the swapped pass computes the same bits.
template <int kLd>
__device__ __forceinline__ void tile_s(float (&acc)[8][4], const float* sx, const float* sy, int kpad, int warp,
                                       int lane) {
  const float* x0 = sx + (warp * kWarpRows + (lane >> 2)) * kLd;
  const float* x1 = x0 + 8 * kLd;
  const float* y0 = sy + 2 * (lane & 3) * kLd;
  for (int k = 0; k < kpad; k += 4) {
    const float4 xa = *reinterpret_cast<const float4*>(x0 + k);
    const float4 xb = *reinterpret_cast<const float4*>(x1 + k);
#pragma unroll
    for (int nt = 0; nt < 8; ++nt) {
      const float4 ya = *reinterpret_cast<const float4*>(y0 + nt * 8 * kLd + k);
      const float4 yb = *reinterpret_cast<const float4*>(y0 + (nt * 8 + 1) * kLd + k);
      acc[nt][0] = dot4(xa, ya, acc[nt][0]);
      acc[nt][1] = dot4(xa, yb, acc[nt][1]);
      acc[nt][2] = dot4(xb, ya, acc[nt][2]);
      acc[nt][3] = dot4(xb, yb, acc[nt][3]);
    }
  }
}

// dacc (16 x kDC, accumulator layout with kDT n-tiles) += G' (16 x 64, in g) . y tile (64 x kDC)
// over the output columns [0, kpad). bf16: G' from registers as A fragments (n-tiles 2kk and
// 2kk + 1 form the 16 x 16 fragment kk), y through ldmatrix.trans (y rows are the k dimension).
template <int kLd, int kDT>
__device__ __forceinline__ void tile_dx(float (&dacc)[kDT][4], const float (&g)[8][4], const __nv_bfloat16* sy,
                                        int kpad, int lane, float*) {
  const int gi = lane >> 3, r = lane & 7;
  const __nv_bfloat16* yb = sy + ((gi & 1) * 8 + r) * kLd + (gi >> 1) * 8;
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) {
    uint32_t a[4];
    a[0] = pack_bf16(g[2 * kk][0], g[2 * kk][1]);
    a[1] = pack_bf16(g[2 * kk][2], g[2 * kk][3]);
    a[2] = pack_bf16(g[2 * kk + 1][0], g[2 * kk + 1][1]);
    a[3] = pack_bf16(g[2 * kk + 1][2], g[2 * kk + 1][3]);
#pragma unroll
    for (int dp = 0; dp < kDT / 2; ++dp) {
      if (dp * 16 < kpad) {
        uint32_t b[4];
        ldsm_x4_trans(b, yb + kk * 16 * kLd + dp * 16);
        mma_bf16(dacc[2 * dp], a, b[0], b[1]);
        mma_bf16(dacc[2 * dp + 1], a, b[2], b[3]);
      }
    }
  }
}

// f32: G' staged in the warp's shared tile (16 x kGLd), then one FMA per (row, column, y row).
template <int kLd, int kDT>
__device__ __forceinline__ void tile_dx(float (&dacc)[kDT][4], const float (&g)[8][4], const float* sy, int kpad,
                                        int lane, float* sg) {
  constexpr int kGLd = kBN + 4;
  const int q = lane & 3, r0 = lane >> 2;
#pragma unroll
  for (int nt = 0; nt < 8; ++nt) {
    *reinterpret_cast<float2*>(sg + r0 * kGLd + nt * 8 + 2 * q) = make_float2(g[nt][0], g[nt][1]);
    *reinterpret_cast<float2*>(sg + (r0 + 8) * kGLd + nt * 8 + 2 * q) = make_float2(g[nt][2], g[nt][3]);
  }
  __syncwarp();
  const float* g0 = sg + r0 * kGLd;
  const float* g1 = g0 + 8 * kGLd;
  for (int c = 0; c < kBN; ++c) {
    const float ga = g0[c], gb = g1[c];
    const float* yrow = sy + c * kLd + 2 * q;
#pragma unroll
    for (int dt = 0; dt < kDT; ++dt) {
      if (dt * 8 < kpad) {
        const float2 yv = *reinterpret_cast<const float2*>(yrow + dt * 8);
        dacc[dt][0] = fmaf(ga, yv.x, dacc[dt][0]);
        dacc[dt][1] = fmaf(ga, yv.y, dacc[dt][1]);
        dacc[dt][2] = fmaf(gb, yv.x, dacc[dt][2]);
        dacc[dt][3] = fmaf(gb, yv.y, dacc[dt][3]);
      }
    }
  }
  __syncwarp();  // the next tile overwrites sg
}

// ---- the sweep shared by the forward and backward kernels ----

// Runs body(acc, stage, y0, kpad) for every y tile of this block's split, acc holding the raw
// products x . y (unscaled) of the warp's 16 rows and the tile's 64 rows, the tile's y rows in
// t.y(stage) (the output slice's chunk of them when D is chunked) and its columns' sigma and lse
// in t.scale(stage), t.lse(stage); kpad: the width of that chunk rounded up to 16.
template <typename T, int kDC, typename Body>
__device__ __forceinline__ void sweep(const FusedArgs<T>& p, const Tiles<T, kDC>& t, int64_t x0, int slice,
                                      float root, Body&& body) {
  using Tl = Tiles<T, kDC>;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t y_tiles = (p.rows_y + kBN - 1) / kBN;
  const int64_t t_begin = static_cast<int64_t>(blockIdx.y) * p.tiles_per_split;
  const int64_t t_end = min64(y_tiles, t_begin + p.tiles_per_split);
  const int nchunks = static_cast<int>((p.D + kDC - 1) / kDC);
  if (nchunks == 1) {
    // x resident; y double-buffered: tile n + 1 is in flight while tile n is computed.
    const int kpad = round16(p.D);
    load_tile<T, Tl::kBM, Tl::kLd, Tl::kThreads>(t.x, p.x, x0, p.rows_x, p.D, 0, kpad, p.vec_x);
    load_tile<T, kBN, Tl::kLd, Tl::kThreads>(t.y(0), p.y, t_begin * kBN, p.rows_y, p.D, 0, kpad, p.vec_y);
    load_columns<T, Tl::kThreads>(t.scale(0), t.lse(0), p, t_begin * kBN, root);
    cp_async_commit();
    for (int64_t tile = t_begin; tile < t_end; ++tile) {
      const int stage = static_cast<int>((tile - t_begin) & 1);
      if (tile + 1 < t_end) {
        const int64_t y_next = (tile + 1) * kBN;
        load_tile<T, kBN, Tl::kLd, Tl::kThreads>(t.y(stage ^ 1), p.y, y_next, p.rows_y, p.D, 0, kpad, p.vec_y);
        load_columns<T, Tl::kThreads>(t.scale(stage ^ 1), t.lse(stage ^ 1), p, y_next, root);
        cp_async_commit();
        cp_async_wait<1>();
      } else {
        cp_async_wait<0>();
      }
      __syncthreads();
      float acc[8][4] = {};
      tile_s<Tl::kLd>(acc, t.x, t.y(stage), kpad, warp, lane);
      body(acc, stage, tile * kBN, kpad);
      __syncthreads();  // everyone is done with this stage before it is refilled
    }
    return;
  }
  // D > kDC: per tile, every chunk of x and y in turn, the output slice's chunk last so that it is
  // the one left in t.y(0) for the body.
  for (int64_t tile = t_begin; tile < t_end; ++tile) {
    float acc[8][4] = {};
    int kpad = 0;
    for (int ci = 0; ci < nchunks; ++ci) {
      const int64_t c0 = static_cast<int64_t>((slice + 1 + ci) % nchunks) * kDC;
      kpad = round16(min64(kDC, p.D - c0));
      __syncthreads();
      load_tile<T, Tl::kBM, Tl::kLd, Tl::kThreads>(t.x, p.x, x0, p.rows_x, p.D, c0, kpad, p.vec_x);
      load_tile<T, kBN, Tl::kLd, Tl::kThreads>(t.y(0), p.y, tile * kBN, p.rows_y, p.D, c0, kpad, p.vec_y);
      if (ci == 0) load_columns<T, Tl::kThreads>(t.scale(0), t.lse(0), p, tile * kBN, root);
      cp_async_commit();
      cp_async_wait<0>();
      __syncthreads();
      tile_s<Tl::kLd>(acc, t.x, t.y(0), kpad, warp, lane);
    }
    body(acc, 0, tile * kBN, kpad);
  }
}

// The rows (x index) a thread holds: h = 0, 1 for rows lane / 4 and lane / 4 + 8 of its warp.
struct OwnedRows {
  int64_t index[2];
  bool valid[2];
  float sigma[2];
};

template <typename T>
__device__ __forceinline__ OwnedRows owned_rows(const FusedArgs<T>& p, int64_t x0, float root) {
  OwnedRows o;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    o.index[h] = x0 + warp * kWarpRows + lane / 4 + 8 * h;
    o.valid[h] = o.index[h] < p.rows_x;
    o.sigma[h] = o.valid[h] ? sigma(p.norms_x[o.index[h]], p.eps, root) : 0.0f;
  }
  return o;
}

__device__ __forceinline__ float quad_max(float v) {
  v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
  return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
}

__device__ __forceinline__ float quad_sum(float v) {
  v += __shfl_xor_sync(0xffffffffu, v, 1);
  return v + __shfl_xor_sync(0xffffffffu, v, 2);
}

// Per tile, in tile-local columns: the columns before c_end are real y rows, and row h's
// positive is column diag_c[h] (-1 when not in this tile). 32-bit compares in the element loop.
struct TileColumns {
  int c_end;
  int diag_c[2];
};

__device__ __forceinline__ TileColumns tile_columns(const OwnedRows& o, int64_t diag, int64_t rows_y, int64_t y0) {
  TileColumns tc;
  tc.c_end = static_cast<int>(min64(kBN, rows_y - y0));
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int64_t dc = o.index[h] + diag - y0;
    tc.diag_c[h] = (o.valid[h] && dc >= 0 && dc < kBN) ? static_cast<int>(dc) : -1;
  }
  return tc;
}

// ---- forward: per-row online log-sum-exp over this split's y rows ----
// partials (3, splits, rows_x): max, sum of exp2(S - max), the positive (0 when not here).
template <typename T, int kDC>
__global__ void __launch_bounds__(Tiles<T, kDC>::kThreads, 2)
    lse_kernel(const FusedArgs<T> p, float* partials) {
  extern __shared__ __align__(16) char smem[];
  const Tiles<T, kDC> t(smem);
  const float root = sqrtf(kLog2e / p.tau[0]);
  const int64_t x0 = static_cast<int64_t>(blockIdx.x) * Tiles<T, kDC>::kBM;
  const OwnedRows o = owned_rows(p, x0, root);
  const int lane = threadIdx.x % 32;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f}, pos[2] = {0.0f, 0.0f};
  sweep(p, t, x0, 0, root, [&](float (&acc)[8][4], int stage, int64_t y0, int) {
    const float* scale = t.scale(stage);
    const TileColumns tc = tile_columns(o, p.diag, p.rows_y, y0);
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int nt = 0; nt < 8; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int c = nt * 8 + 2 * (lane & 3) + (e & 1), h = e >> 1;
        float s = acc[nt][e] * (o.sigma[h] * scale[c]);
        if (c == tc.diag_c[h]) pos[h] = s;
        if (c >= tc.c_end) s = -INFINITY;
        acc[nt][e] = s;
        mx[h] = fmaxf(mx[h], s);
      }
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const float m_new = fmaxf(m[h], quad_max(mx[h]));
      l[h] *= exp2f(m[h] - m_new);
      m[h] = m_new;
    }
#pragma unroll
    for (int nt = 0; nt < 8; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) l[e >> 1] += exp2f(acc[nt][e] - m[e >> 1]);
  });
  const int64_t plane = static_cast<int64_t>(gridDim.y) * p.rows_x;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const float total = quad_sum(l[h]);
    const float positive = quad_sum(pos[h]);  // one lane of the quad holds it, or none
    if ((lane & 3) == 0 && o.valid[h]) {
      float* out = partials + static_cast<int64_t>(blockIdx.y) * p.rows_x + o.index[h];
      out[0] = m[h];
      out[plane] = total;
      out[2 * plane] = positive;
    }
  }
}

// ---- backward: d x_hat of the owned rows over this split, and sum G S for dtau ----
// dxhat (splits, rows_x, D); dtau_partials (splits * gridDim.x) or nullptr.
template <typename T, int kDC>
__global__ void __launch_bounds__(Tiles<T, kDC>::kThreads, 1)
    grad_kernel(const FusedArgs<T> p, float* dxhat, float* dtau_partials) {
  using Tl = Tiles<T, kDC>;
  extern __shared__ __align__(16) char smem[];
  const Tl t(smem);
  const float root = sqrtf(kLog2e / p.tau[0]);
  const float g_scale = root * kLn2;  // sigma_y g_scale = 1 / (tau max(|y|, eps))
  const int64_t x0 = static_cast<int64_t>(blockIdx.x) * Tl::kBM;
  const int slice = static_cast<int>(blockIdx.z);
  const OwnedRows o = owned_rows(p, x0, root);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const float gl = p.gloss[0];
  const float w_r = gl / static_cast<float>(p.symmetric ? 2 * p.N : p.N);
  const float w_c = p.symmetric ? gl / static_cast<float>(2 * p.N) : 0.0f;
  const float w_x = p.x_is_a ? w_r : w_c, w_y = p.x_is_a ? w_c : w_r;
  float lse_x[2];
#pragma unroll
  for (int h = 0; h < 2; ++h) lse_x[h] = o.valid[h] ? p.lse_x.at(o.index[h]) : INFINITY;
  float* sg = Tl::kStageG ? t.g() + warp * kWarpRows * Tl::kGLd : nullptr;
  float dacc[Tl::kDT][4] = {};
  float gs = 0.0f;  // sum of G S in log2 units of S
  sweep(p, t, x0, slice, root, [&](float (&acc)[8][4], int stage, int64_t y0, int kpad) {
    const float* scale = t.scale(stage);
    const float* lse_y = t.lse(stage);
    const TileColumns tc = tile_columns(o, p.diag, p.rows_y, y0);
#pragma unroll
    for (int nt = 0; nt < 8; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int c = nt * 8 + 2 * (lane & 3) + (e & 1), h = e >> 1;
        const float s = acc[nt][e] * (o.sigma[h] * scale[c]);
        float gv = 0.0f;
        if (o.valid[h] && c < tc.c_end) {
          gv = w_x * exp2f(s - lse_x[h]) + w_y * exp2f(s - lse_y[c]);
          if (c == tc.diag_c[h]) gv -= w_x + w_y;
        }
        gs += gv * s;
        acc[nt][e] = gv * (scale[c] * g_scale);
      }
    tile_dx<Tl::kLd, Tl::kDT>(dacc, acc, t.y(stage), kpad, lane, sg);
  });
  const int64_t d0 = static_cast<int64_t>(slice) * kDC;
  const int64_t d_end = min64(p.D, d0 + kDC);
  float* out = dxhat + static_cast<int64_t>(blockIdx.y) * p.rows_x * p.D;
#pragma unroll
  for (int dt = 0; dt < Tl::kDT; ++dt)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int h = e >> 1;
      const int64_t d = d0 + dt * 8 + 2 * (lane & 3) + (e & 1);
      if (o.valid[h] && d < d_end) out[o.index[h] * p.D + d] = dacc[dt][e];
    }
  if (dtau_partials != nullptr && slice == 0) {
    const float total = block_sum<Tl::kThreads>(gs);
    if (threadIdx.x == 0) dtau_partials[static_cast<int64_t>(blockIdx.y) * gridDim.x + blockIdx.x] = total * kLn2;
  }
}

// ---- small kernels ----

// norms[r] = |x_r|: a warp per row, lanes striding over D.
template <typename T>
__global__ void row_norms_kernel(const T* x, float* norms, int64_t R, int64_t D) {
  const int lane = threadIdx.x % 32;
  const int64_t warps = grid_threads() / 32;
  for (int64_t r = global_thread() / 32; r < R; r += warps) {
    float ss = 0.0f;
    for (int64_t d = lane; d < D; d += 32) {
      const float v = to_float(x[r * D + d]);
      ss = fmaf(v, v, ss);
    }
    ss = warp_sum(ss);
    if (lane == 0) norms[r] = sqrtf(ss);
  }
}

// Merges one pass's splits for row i: the log-sum-exp (log2 units) and the positive.
__device__ __forceinline__ void merge_splits(const float* partials, int splits, int64_t N, int64_t i, float& lse,
                                             float& positive) {
  const int64_t plane = static_cast<int64_t>(splits) * N;
  float mx = -INFINITY;
  for (int s = 0; s < splits; ++s) mx = fmaxf(mx, partials[s * N + i]);
  float sum = 0.0f;
  positive = 0.0f;
  for (int s = 0; s < splits; ++s) {
    sum += partials[plane + s * N + i] * exp2f(partials[s * N + i] - mx);
    positive += partials[2 * plane + s * N + i];
  }
  lse = mx + log2f(sum);
}

__global__ void finalize_kernel(int64_t N, bool symmetric, const float* row_partials, int row_splits,
                                const float* col_partials, int col_splits, float* lse_row, float* lse_col,
                                float* row_loss) {
  for (int64_t i = global_thread(); i < N; i += grid_threads()) {
    float lse, positive;
    merge_splits(row_partials, row_splits, N, i, lse, positive);
    lse_row[i] = lse;
    float loss = lse - positive;
    if (symmetric) {
      merge_splits(col_partials, col_splits, N, i, lse, positive);
      lse_col[i] = lse;
      loss += lse - positive;
    }
    row_loss[i] = loss;
  }
}

// dx_r = normalization backward of v = sum over splits of dxhat[s, r, :]: a warp per row.
template <typename T>
__global__ void grad_finish_kernel(const float* dxhat, int splits, const T* x, const float* norms, int64_t R,
                                   int64_t D, float eps, T* dx) {
  const int lane = threadIdx.x % 32;
  const int64_t warps = grid_threads() / 32;
  const int64_t plane = R * D;
  for (int64_t r = global_thread() / 32; r < R; r += warps) {
    const auto v_at = [&](int64_t d) {
      float v = 0.0f;
      for (int s = 0; s < splits; ++s) v += dxhat[s * plane + r * D + d];
      return v;
    };
    const float norm = norms[r];
    float dot = 0.0f;
    if (norm > eps) {
      for (int64_t d = lane; d < D; d += 32) dot = fmaf(v_at(d), to_float(x[r * D + d]), dot);
      dot = warp_sum(dot);
    }
    // norm > eps: (v - x_hat <v, x_hat>) / norm with x_hat = x / norm; else v / eps.
    const float inv = 1.0f / fmaxf(norm, eps);
    const float coef = dot * inv * inv;
    for (int64_t d = lane; d < D; d += 32) dx[r * D + d] = from_float<T>((v_at(d) - to_float(x[r * D + d]) * coef) * inv);
  }
}

// dtau = -(sum of partials, in a fixed order) / tau: one block.
constexpr int kDtauThreads = 256;
__global__ void dtau_kernel(const float* partials, int64_t count, const float* tau, float* dtau) {
  float acc = 0.0f;
  for (int64_t i = threadIdx.x; i < count; i += kDtauThreads) acc += partials[i];
  const float total = block_sum<kDtauThreads>(acc);
  if (threadIdx.x == 0) dtau[0] = -total / tau[0];
}

template <typename T>
__global__ void plain_scale_kernel(const T* x, const float* tau, T* y, int64_t n) {
  const float inv = 1.0f / tau[0];
  for (int64_t i = global_thread(); i < n; i += grid_threads()) y[i] = from_float<T>(to_float(x[i]) * inv);
}

__global__ void plain_labels_kernel(int32_t* labels, int64_t n, int64_t offset) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) labels[i] = static_cast<int32_t>(offset + i);
}

constexpr int64_t kPlainDotBlocks = 1024;
__global__ void plain_dot_kernel(const float* g, const float* x, int64_t n, float* partials) {
  float acc = 0.0f;
  for (int64_t i = global_thread(); i < n; i += grid_threads()) acc = fmaf(g[i], x[i], acc);
  const float total = block_sum<kBlock>(acc);
  if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

// ---- host side ----

int device_sms() {
  int device = 0, sms = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess || sms <= 0)
    return 132;  // an H100 SXM; the launch that follows reports any device error
  return sms;
}

// The D chunk width for D: the smallest of 64, 128, 256 that holds it, 256 above.
int chunk_width(int64_t D) { return D <= 64 ? 64 : (D <= 128 ? 128 : kMaxDC); }

template <typename T>
bool aligned16(const T* p, int64_t D) {
  return D % (16 / static_cast<int64_t>(sizeof(T))) == 0 && reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

// The pass as x and y, from the problem.
template <typename T>
FusedArgs<T> pass_args(const InfoNceProblem<T>& p, InfoNcePass pass, bool backward, int splits) {
  FusedArgs<T> f{};
  const bool rows = pass == InfoNcePass::rows;
  f.x = rows ? p.a : (backward ? p.b : p.b + p.offset * p.D);
  f.y = rows ? p.b : p.a;
  f.norms_x = rows ? p.norms_a : (backward ? p.norms_b : p.norms_b + p.offset);
  f.norms_y = rows ? p.norms_b : p.norms_a;
  f.rows_x = rows ? p.N : (backward ? p.M : p.N);
  f.rows_y = rows ? p.M : p.N;
  f.D = p.D;
  // Positives: a_i with b_{offset+i}. Forward cols pass: x = b_{offset+i'}, y = a_k: k == i'.
  f.diag = rows ? p.offset : (backward ? -p.offset : 0);
  const int64_t y_tiles = (f.rows_y + kBN - 1) / kBN;
  f.tiles_per_split = (y_tiles + splits - 1) / splits;
  f.tau = p.tau;
  f.eps = p.eps;
  f.vec_x = aligned16(f.x, p.D);
  f.vec_y = aligned16(f.y, p.D);
  f.lse_x = Band{nullptr, 0, 0};
  f.lse_y = Band{nullptr, 0, 0};
  f.N = p.N;
  f.symmetric = p.symmetric;
  f.x_is_a = rows;
  return f;
}

// Opts `kernel` in to `bytes` of dynamic shared memory (more than the default 48 KiB) on the
// current device. A refusal (a device with less shared memory per block) is returned, so that
// the caller reports it rather than the launch's vaguer error, and taken off the thread's last
// error, so that it is reported once.
//
// Set before every launch, not once per process: the attribute belongs to the kernel as loaded in
// the current device's context, and a process may drive several devices (Device cuda:N), so a
// function-local static would leave every device but the first without it. Caching it per device
// would save one host-side driver call (no device work, no synchronization) per launch, against a
// fused kernel that runs for far longer; the fused loss makes 2 to 4 such launches per call.
template <typename Kernel>
cudaError_t allow_dynamic_shared(Kernel kernel, size_t bytes) {
  const cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                               static_cast<int>(bytes));
  if (err != cudaSuccess) cudaGetLastError();
  return err;
}

template <typename T, int kDC>
cudaError_t launch_lse(const FusedArgs<T>& f, int splits, float* partials, cudaStream_t s) {
  using Tl = Tiles<T, kDC>;
  const auto kernel = lse_kernel<T, kDC>;
  const cudaError_t err = allow_dynamic_shared(kernel, Tl::kBytes);
  if (err != cudaSuccess) return err;
  const dim3 grid(static_cast<unsigned>(ceil_div(f.rows_x, Tl::kBM)), static_cast<unsigned>(splits));
  kernel<<<grid, Tl::kThreads, Tl::kBytes, s>>>(f, partials);
  return cudaSuccess;
}

template <typename T, int kDC>
cudaError_t launch_grad(const FusedArgs<T>& f, int splits, float* dxhat, float* dtau_partials, cudaStream_t s) {
  using Tl = Tiles<T, kDC>;
  const auto kernel = grad_kernel<T, kDC>;
  const cudaError_t err = allow_dynamic_shared(kernel, Tl::kBytes);
  if (err != cudaSuccess) return err;
  const dim3 grid(static_cast<unsigned>(ceil_div(f.rows_x, Tl::kBM)), static_cast<unsigned>(splits),
                  static_cast<unsigned>(ceil_div(f.D, kDC)));
  kernel<<<grid, Tl::kThreads, Tl::kBytes, s>>>(f, dxhat, dtau_partials);
  return cudaSuccess;
}

}  // namespace

template <typename T>
void info_nce_row_norms(const T* x, float* norms, int64_t R, int64_t D, cudaStream_t s) {
  if (R <= 0) return;
  row_norms_kernel<T><<<grid_for(R * 32), kBlock, 0, s>>>(x, norms, R, D);
}

template <typename T>
int64_t info_nce_block_rows() {
  return Tiles<T, 64>::kBM;
}

// Picks the split count s <= max_splits minimizing (waves of x_tiles * s blocks) x (y tiles per
// split), one block per SM (the large-D tiles need most of an SM's shared memory); ties go to
// fewer splits (less partial memory, cheaper merges).
template <typename T>
int info_nce_splits(int64_t rows_x, int64_t rows_y, int max_splits) {
  const int64_t x_tiles = ceil_div(std::max<int64_t>(rows_x, 1), Tiles<T, 64>::kBM);
  const int64_t y_tiles = ceil_div(std::max<int64_t>(rows_y, 1), kBN);
  const int64_t cap = std::max<int64_t>(1, std::min<int64_t>({static_cast<int64_t>(max_splits), y_tiles, kMaxSplits}));
  const int64_t slots = device_sms();
  int64_t best = 1, best_cost = INT64_MAX;
  for (int64_t s = 1; s <= cap; ++s) {
    const int64_t per_split = ceil_div(y_tiles, s);
    const int64_t used = ceil_div(y_tiles, per_split);  // splits that get tiles
    const int64_t cost = ceil_div(x_tiles * used, slots) * per_split;
    if (cost < best_cost) {
      best_cost = cost;
      best = used;
    }
  }
  return static_cast<int>(best);
}

template <typename T>
cudaError_t info_nce_lse_partials(const InfoNceProblem<T>& p, InfoNcePass pass, int splits, float* partials,
                                  cudaStream_t s) {
  if (p.N <= 0) return cudaSuccess;
  const FusedArgs<T> f = pass_args(p, pass, false, splits);
  switch (chunk_width(p.D)) {
    case 64: return launch_lse<T, 64>(f, splits, partials, s);
    case 128: return launch_lse<T, 128>(f, splits, partials, s);
    default: return launch_lse<T, kMaxDC>(f, splits, partials, s);
  }
}

void info_nce_finalize(int64_t N, bool symmetric, const float* row_partials, int row_splits,
                       const float* col_partials, int col_splits, float* lse_row, float* lse_col, float* row_loss,
                       cudaStream_t s) {
  if (N <= 0) return;
  finalize_kernel<<<grid_for(N), kBlock, 0, s>>>(N, symmetric, row_partials, row_splits, col_partials, col_splits,
                                                 lse_row, lse_col, row_loss);
}

template <typename T>
cudaError_t info_nce_grad_partials(const InfoNceProblem<T>& p, InfoNcePass pass, const float* lse_row,
                                   const float* lse_col, const float* gloss, int splits, float* dxhat,
                                   float* dtau_partials, cudaStream_t s) {
  if (p.N <= 0) return cudaSuccess;
  FusedArgs<T> f = pass_args(p, pass, true, splits);
  const Band rows_band{lse_row, 0, p.N};
  const Band cols_band{p.symmetric ? lse_col : nullptr, p.offset, p.offset + p.N};
  const bool rows = pass == InfoNcePass::rows;
  f.lse_x = rows ? rows_band : cols_band;
  f.lse_y = rows ? cols_band : rows_band;
  f.gloss = gloss;
  switch (chunk_width(p.D)) {
    case 64: return launch_grad<T, 64>(f, splits, dxhat, dtau_partials, s);
    case 128: return launch_grad<T, 128>(f, splits, dxhat, dtau_partials, s);
    default: return launch_grad<T, kMaxDC>(f, splits, dxhat, dtau_partials, s);
  }
}

template <typename T>
void info_nce_grad_finish(const float* dxhat, int splits, const T* x, const float* norms, int64_t R, int64_t D,
                          float eps, T* dx, cudaStream_t s) {
  if (R <= 0 || D <= 0) return;
  grad_finish_kernel<T><<<grid_for(R * 32), kBlock, 0, s>>>(dxhat, splits, x, norms, R, D, eps, dx);
}

void info_nce_dtau(const float* partials, int64_t count, const float* tau, float* dtau, cudaStream_t s) {
  dtau_kernel<<<1, kDtauThreads, 0, s>>>(partials, count, tau, dtau);
}

template <typename T>
void info_nce_plain_scale(const T* x, const float* tau, T* y, int64_t n, cudaStream_t s) {
  if (n <= 0) return;
  plain_scale_kernel<T><<<grid_for(n), kBlock, 0, s>>>(x, tau, y, n);
}

void info_nce_plain_labels(int32_t* labels, int64_t n, int64_t offset, cudaStream_t s) {
  if (n <= 0) return;
  plain_labels_kernel<<<grid_for(n), kBlock, 0, s>>>(labels, n, offset);
}

int64_t info_nce_plain_dot_blocks(int64_t n) { return std::max<int64_t>(1, std::min(kPlainDotBlocks, ceil_div(n, kBlock))); }

void info_nce_plain_dot_partials(const float* g, const float* x, int64_t n, float* partials, cudaStream_t s) {
  plain_dot_kernel<<<static_cast<unsigned>(info_nce_plain_dot_blocks(n)), kBlock, 0, s>>>(g, x, n, partials);
}

// ---- the whole fused path ----

namespace {

// Forward splits have tiny partials (3 floats per row and split): any count the device wants.
constexpr int kMaxForwardSplits = 64;

struct ForwardPlan {
  int row_splits, col_splits;
};

template <typename T>
ForwardPlan forward_plan(int64_t N, int64_t M, bool symmetric) {
  return {info_nce_splits<T>(N, M, kMaxForwardSplits), symmetric ? info_nce_splits<T>(N, N, kMaxForwardSplits) : 0};
}

// The backward's split counts keep each pass's partial d x_hat within (N + M) D floats.
struct BackwardPlan {
  int row_splits, col_splits;
  int64_t dtau_blocks;
};

template <typename T>
BackwardPlan backward_plan(int64_t N, int64_t M) {
  BackwardPlan b{};
  b.row_splits = info_nce_splits<T>(N, M, static_cast<int>(std::min<int64_t>((N + M) / std::max<int64_t>(N, 1), 1 << 20)));
  b.col_splits = info_nce_splits<T>(M, N, static_cast<int>(std::min<int64_t>((N + M) / std::max<int64_t>(M, 1), 1 << 20)));
  b.dtau_blocks = b.row_splits * ceil_div(N, info_nce_block_rows<T>());
  return b;
}

}  // namespace

template <typename T>
int64_t info_nce_forward_scratch(int64_t N, int64_t M, bool symmetric) {
  const ForwardPlan f = forward_plan<T>(N, M, symmetric);
  return 3 * (static_cast<int64_t>(f.row_splits) + f.col_splits) * N;
}

template <typename T>
cudaError_t info_nce_forward(const InfoNceProblem<T>& p, float* norms_a, float* norms_b, float* lse_row,
                             float* lse_col, float* row_loss, float* scratch, cudaStream_t s) {
  if (p.N <= 0) return cudaSuccess;
  InfoNceProblem<T> q = p;
  q.norms_a = norms_a;
  q.norms_b = norms_b;
  info_nce_row_norms<T>(q.a, norms_a, q.N, q.D, s);
  info_nce_row_norms<T>(q.b, norms_b, q.M, q.D, s);
  const ForwardPlan f = forward_plan<T>(q.N, q.M, q.symmetric);
  float* row_partials = scratch;
  float* col_partials = q.symmetric ? scratch + 3 * static_cast<int64_t>(f.row_splits) * q.N : nullptr;
  cudaError_t err = info_nce_lse_partials<T>(q, InfoNcePass::rows, f.row_splits, row_partials, s);
  if (err == cudaSuccess && q.symmetric)
    err = info_nce_lse_partials<T>(q, InfoNcePass::cols, f.col_splits, col_partials, s);
  if (err != cudaSuccess) return err;
  info_nce_finalize(q.N, q.symmetric, row_partials, f.row_splits, col_partials, f.col_splits, lse_row,
                    q.symmetric ? lse_col : nullptr, row_loss, s);
  return cudaSuccess;
}

template <typename T>
int64_t info_nce_backward_scratch(int64_t N, int64_t M, int64_t D) {
  const BackwardPlan b = backward_plan<T>(N, M);
  return std::max(b.row_splits * N * D + b.dtau_blocks, b.col_splits * M * D);
}

template <typename T>
cudaError_t info_nce_backward(const InfoNceProblem<T>& p, const float* lse_row, const float* lse_col,
                              const float* gloss, T* da, T* db, float* dtau, float* scratch, cudaStream_t s) {
  if (p.N <= 0) return cudaSuccess;
  const BackwardPlan b = backward_plan<T>(p.N, p.M);
  const float* lse_c = p.symmetric ? lse_col : nullptr;
  float* dtau_partials = scratch + b.row_splits * p.N * p.D;
  cudaError_t err =
      info_nce_grad_partials<T>(p, InfoNcePass::rows, lse_row, lse_c, gloss, b.row_splits, scratch, dtau_partials, s);
  if (err != cudaSuccess) return err;
  info_nce_grad_finish<T>(scratch, b.row_splits, p.a, p.norms_a, p.N, p.D, p.eps, da, s);
  info_nce_dtau(dtau_partials, b.dtau_blocks, p.tau, dtau, s);
  err = info_nce_grad_partials<T>(p, InfoNcePass::cols, lse_row, lse_c, gloss, b.col_splits, scratch, nullptr, s);
  if (err != cudaSuccess) return err;
  info_nce_grad_finish<T>(scratch, b.col_splits, p.b, p.norms_b, p.M, p.D, p.eps, db, s);
  return cudaSuccess;
}

#define RSD_INSTANTIATE_INFO_NCE(T)                                                                              \
  template void info_nce_row_norms<T>(const T*, float*, int64_t, int64_t, cudaStream_t);                         \
  template int64_t info_nce_block_rows<T>();                                                                     \
  template int info_nce_splits<T>(int64_t, int64_t, int);                                                        \
  template cudaError_t info_nce_lse_partials<T>(const InfoNceProblem<T>&, InfoNcePass, int, float*,             \
                                                cudaStream_t);                                                   \
  template cudaError_t info_nce_grad_partials<T>(const InfoNceProblem<T>&, InfoNcePass, const float*,            \
                                                 const float*, const float*, int, float*, float*, cudaStream_t); \
  template void info_nce_grad_finish<T>(const float*, int, const T*, const float*, int64_t, int64_t, float, T*, \
                                        cudaStream_t);                                                           \
  template void info_nce_plain_scale<T>(const T*, const float*, T*, int64_t, cudaStream_t);                     \
  template int64_t info_nce_forward_scratch<T>(int64_t, int64_t, bool);                                          \
  template cudaError_t info_nce_forward<T>(const InfoNceProblem<T>&, float*, float*, float*, float*, float*,    \
                                           float*, cudaStream_t);                                                \
  template int64_t info_nce_backward_scratch<T>(int64_t, int64_t, int64_t);                                      \
  template cudaError_t info_nce_backward<T>(const InfoNceProblem<T>&, const float*, const float*, const float*,  \
                                            T*, T*, float*, float*, cudaStream_t);

RSD_INSTANTIATE_INFO_NCE(float)
RSD_INSTANTIATE_INFO_NCE(__nv_bfloat16)

#undef RSD_INSTANTIATE_INFO_NCE

}  // namespace rsd::kernels
