// Helpers shared by the kernels/*.cu files (nvcc only, never included by engine code):
// conversions between storage types and float, launch-size helpers, and deterministic
// warp/block reductions (fixed summation trees, no atomics).
#pragma once
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <algorithm>
#include <cstdint>

namespace rsd::kernels {

// ---------------------------------------------------------------------------------------------
// Storage <-> float conversions. Arithmetic is done in float; float -> 16-bit rounds to nearest
// even, float -> int truncates toward zero like a C cast.

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }

template <typename T>
__device__ __forceinline__ T from_float(float x);
template <>
__device__ __forceinline__ float from_float<float>(float x) { return x; }
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }
template <>
__device__ __forceinline__ __half from_float<__half>(float x) { return __float2half_rn(x); }
template <>
__device__ __forceinline__ int32_t from_float<int32_t>(float x) { return static_cast<int32_t>(x); }

// ---------------------------------------------------------------------------------------------
// Launch sizes. 1-D kernels use grid-stride loops, so the grid is capped and any n works.

constexpr int kBlock = 256;
constexpr int64_t kMaxBlocks = 65536;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

inline int grid_for(int64_t work, int block = kBlock) {
  return static_cast<int>(std::min<int64_t>(ceil_div(work, block), kMaxBlocks));
}

__device__ __forceinline__ int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

__device__ __forceinline__ int64_t global_thread() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}

__device__ __forceinline__ int64_t grid_threads() {
  return static_cast<int64_t>(gridDim.x) * blockDim.x;
}

// Column-tiled layout for (rows, cols) row-major data reduced or scaled per column
// (sum_rows, batchnorm): blockDim = (kColTile, kRowLanes); threadIdx.x picks one column so a warp
// reads 32 adjacent elements of a row, threadIdx.y interleaves the rows of the block's range.
constexpr int kColTile = 32;
constexpr int kRowLanes = 8;

// Column reductions split the rows into slabs (gridDim.y); each block writes one float partial
// per (slab, column) and a second kernel adds the slabs in order. The plan depends only on
// (rows, cols), so the summation order, and hence the result, is reproducible.
constexpr int64_t kMinSlabRows = 64;
constexpr int64_t kTargetSlabBlocks = 2048;

struct SlabPlan {
  int64_t col_tiles;  // gridDim.x
  int64_t slab_rows;  // rows per slab (the last one may be shorter)
  int64_t slabs;      // gridDim.y, at most kTargetSlabBlocks
};

inline SlabPlan plan_slabs(int64_t rows, int64_t cols) {
  SlabPlan p;
  p.col_tiles = ceil_div(cols, kColTile);
  const int64_t max_slabs = std::max<int64_t>(1, kTargetSlabBlocks / std::max<int64_t>(1, p.col_tiles));
  p.slab_rows = std::max(kMinSlabRows, ceil_div(rows, max_slabs));
  p.slabs = ceil_div(rows, p.slab_rows);
  return p;
}

// The second kernel of a slab reduction folds each column's `slabs` partials. One thread per column
// walking every slab would be a chain of up to 2048 dependent steps on a handful of threads, so a
// block of (kColTile columns, lanes) splits the slabs of its columns among its lanes and merges the
// lanes in a tree: depth slabs / lanes + log2(lanes). lanes: the power of two that covers the
// slabs, at most kMaxSlabLanes; a function of the slab count, so the order stays fixed.
constexpr int kMaxSlabLanes = 32;

inline int slab_lanes(int64_t slabs) {
  int lanes = 1;
  while (lanes < kMaxSlabLanes && lanes < slabs) lanes *= 2;
  return lanes;
}

inline dim3 slab_fold_grid(int64_t cols) { return dim3(static_cast<unsigned>(ceil_div(cols, kColTile))); }
inline dim3 slab_fold_block(int64_t slabs) { return dim3(kColTile, static_cast<unsigned>(slab_lanes(slabs))); }

// For column blockIdx.x * kColTile + threadIdx.x of a slab_fold_grid / slab_fold_block launch:
// lane threadIdx.y folds slabs threadIdx.y, threadIdx.y + blockDim.y, ... in order,
// acc = merge(acc, load(k)) from `identity`, then lane y merges lane y + h into itself for
// h = blockDim.y / 2, ..., 1. Returns the column's total to every thread of the column. Every
// thread of the block must call it (barriers); a column past the end passes slabs = 0 and gets
// `identity`, so merge(identity, identity) must be defined.
template <typename Acc, typename Load, typename Merge>
__device__ Acc fold_column_slabs(int64_t slabs, Acc identity, Load load, Merge merge) {
  __shared__ Acc lane_acc[kMaxSlabLanes][kColTile];
  Acc acc = identity;
  for (int64_t k = threadIdx.y; k < slabs; k += blockDim.y) acc = merge(acc, load(k));
  lane_acc[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  for (unsigned h = blockDim.y / 2; h > 0; h /= 2) {
    if (threadIdx.y < h)
      lane_acc[threadIdx.y][threadIdx.x] = merge(lane_acc[threadIdx.y][threadIdx.x], lane_acc[threadIdx.y + h][threadIdx.x]);
    __syncthreads();
  }
  return lane_acc[0][threadIdx.x];
}

// Rows a thread of a column loop loads before using any of them. Each thread moves only one
// element per row, so several independent loads must be in flight for a memory-bound loop to get
// near full bandwidth (8 x 2 bytes x 2048 threads = 32 KiB per SM for bf16).
constexpr int kColumnUnroll = 8;

// v[k] = x[(r + k * step) * cols + c] for rows before `end`, 0 from `end` on.
template <int kN, typename T>
__device__ __forceinline__ void load_column(const T* x, int64_t cols, int64_t c, int64_t r, int64_t step,
                                            int64_t end, float (&v)[kN]) {
#pragma unroll
  for (int k = 0; k < kN; ++k) {
    const int64_t rr = r + k * step;
    v[k] = rr < end ? to_float(x[rr * cols + c]) : 0.0f;
  }
}

// Grid for a per-column elementwise pass over (rows, cols): blocks stride over rows, each thread
// keeps its column's constants in registers and handles at least kColumnUnroll rows per pass.
// gridDim.y stays within its 65535 limit.
inline dim3 column_apply_grid(int64_t rows, int64_t cols) {
  const int64_t col_tiles = ceil_div(cols, kColTile);
  const int64_t max_row_blocks = std::min<int64_t>(65535, std::max<int64_t>(1, 16384 / col_tiles));
  const int64_t row_blocks = std::clamp<int64_t>(ceil_div(rows, kColumnUnroll * kRowLanes), 1, max_row_blocks);
  return dim3(static_cast<unsigned>(col_tiles), static_cast<unsigned>(row_blocks));
}

// ---------------------------------------------------------------------------------------------
// Deterministic reductions. The xor butterfly leaves the same value in every lane (float
// addition is commutative, so partner lanes compute identical sums).

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int m = 16; m > 0; m >>= 1) v += __shfl_xor_sync(0xffffffffu, v, m);
  return v;
}

// Sum over a 1-D block of kThreads threads; every thread gets the total. Safe to call repeatedly
// in one kernel: each call's writes happen after all threads have left the previous call's reads.
template <int kThreads>
__device__ float block_sum(float v) {
  static_assert(kThreads % 32 == 0 && kThreads <= 1024, "block of whole warps");
  constexpr int kWarps = kThreads / 32;
  __shared__ float warp_totals[kWarps];
  __shared__ float total;
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  v = warp_sum(v);
  if (lane == 0) warp_totals[warp] = v;
  __syncthreads();
  if (warp == 0) {
    float w = lane < kWarps ? warp_totals[lane] : 0.0f;
    w = warp_sum(w);
    if (lane == 0) total = w;
  }
  __syncthreads();
  return total;
}

}  // namespace rsd::kernels
