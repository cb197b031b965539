// Deterministic two-stage reductions: reduce_sum (array -> scalar) and sum_rows (column sums).
#include "reduce.cuh"

#include "common.cuh"

namespace rsd::kernels {
namespace {

// reduce_sum: stage 1 runs min(kReduceBlocks, ceil(n / kBlock)) blocks, each writing one float
// partial; stage 2 is one block of kReduceBlocks threads adding them. Both sizes depend only on n.
constexpr int kReduceBlocks = 1024;

int reduce_blocks(int64_t n) {
  return static_cast<int>(std::min<int64_t>(kReduceBlocks, ceil_div(n, kBlock)));
}

// Independent loads each thread issues per pass, to keep enough bytes in flight.
constexpr int kReduceUnroll = 4;

// partials: (gridDim.x) floats; thread t of block b sums elements b*kBlock + t + k*(gridDim.x*kBlock)
// in order of k, then the block adds its threads' sums.
template <typename T>
__global__ void reduce_partials_kernel(const T* x, int64_t n, float* partials) {
  const int64_t stride = grid_threads();
  float acc = 0.0f;
  for (int64_t i = global_thread(); i < n; i += kReduceUnroll * stride) {
    float v[kReduceUnroll];
#pragma unroll
    for (int k = 0; k < kReduceUnroll; ++k) v[k] = i + k * stride < n ? to_float(x[i + k * stride]) : 0.0f;
#pragma unroll
    for (int k = 0; k < kReduceUnroll; ++k) acc += v[k];
  }
  acc = block_sum<kBlock>(acc);
  if (threadIdx.x == 0) partials[blockIdx.x] = acc;
}

template <typename T>
__global__ void reduce_final_kernel(const float* partials, int count, float scale, T* out) {
  const float v = static_cast<int>(threadIdx.x) < count ? partials[threadIdx.x] : 0.0f;
  const float total = block_sum<kReduceBlocks>(v);
  if (threadIdx.x == 0) out[0] = from_float<T>(scale * total);
}

// x: (rows, cols); partials: (slabs, cols). Block (tile, slab) sums column
// tile*kColTile + threadIdx.x over the slab's rows: threadIdx.y lanes take interleaved rows, then
// the kRowLanes lane sums are added in lane order.
template <typename T>
__global__ void column_partials_kernel(const T* x, int64_t rows, int64_t cols, int64_t slab_rows,
                                       float* partials) {
  __shared__ float lane_sums[kRowLanes][kColTile];
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kColTile + threadIdx.x;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * slab_rows;
  const int64_t r1 = min64(rows, r0 + slab_rows);
  float acc = 0.0f;
  if (c < cols) {
    for (int64_t r = r0 + threadIdx.y; r < r1; r += kColumnUnroll * kRowLanes) {
      float v[kColumnUnroll];
      load_column(x, cols, c, r, kRowLanes, r1, v);
#pragma unroll
      for (int k = 0; k < kColumnUnroll; ++k) acc += v[k];
    }
  }
  lane_sums[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && c < cols) {
    float total = 0.0f;
#pragma unroll
    for (int k = 0; k < kRowLanes; ++k) total += lane_sums[k][threadIdx.x];
    partials[blockIdx.y * cols + c] = total;
  }
}

struct AddFloat {
  __device__ float operator()(float a, float b) const { return a + b; }
};

// partials: (slabs, cols) -> y: (cols), the slabs added in float in a fixed order
// (fold_column_slabs: lanes over the slabs, then a tree of lanes). Grid: slab_fold_grid(cols),
// block: slab_fold_block(slabs).
template <typename T>
__global__ void column_final_kernel(const float* partials, int64_t slabs, int64_t cols, T* y) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kColTile + threadIdx.x;
  const auto slab = [&](int64_t k) { return partials[k * cols + c]; };
  const float total = fold_column_slabs(c < cols ? slabs : 0, 0.0f, slab, AddFloat{});
  if (threadIdx.y == 0 && c < cols) y[c] = from_float<T>(total);
}

}  // namespace

size_t reduce_workspace_bytes(int64_t n) {
  return n > 0 ? static_cast<size_t>(reduce_blocks(n)) * sizeof(float) : 0;
}

template <typename T>
void reduce_sum(const T* x, T* out, int64_t n, float scale, void* workspace, cudaStream_t s) {
  if (n <= 0) {
    // The empty sum is 0; all-zero bytes are +0 in float and bf16.
    cudaMemsetAsync(out, 0, sizeof(T), s);
    return;
  }
  float* partials = static_cast<float*>(workspace);
  const int blocks = reduce_blocks(n);
  reduce_partials_kernel<T><<<blocks, kBlock, 0, s>>>(x, n, partials);
  reduce_final_kernel<T><<<1, kReduceBlocks, 0, s>>>(partials, blocks, scale, out);
}

size_t sum_rows_workspace_bytes(int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) return 0;
  return static_cast<size_t>(plan_slabs(rows, cols).slabs * cols) * sizeof(float);
}

template <typename T>
void sum_rows(const T* x, T* y, int64_t rows, int64_t cols, void* workspace, cudaStream_t s) {
  if (cols <= 0) return;
  if (rows <= 0) {
    cudaMemsetAsync(y, 0, static_cast<size_t>(cols) * sizeof(T), s);
    return;
  }
  const SlabPlan plan = plan_slabs(rows, cols);
  float* partials = static_cast<float*>(workspace);
  const dim3 grid(static_cast<unsigned>(plan.col_tiles), static_cast<unsigned>(plan.slabs));
  column_partials_kernel<T><<<grid, dim3(kColTile, kRowLanes), 0, s>>>(x, rows, cols, plan.slab_rows, partials);
  column_final_kernel<T><<<slab_fold_grid(cols), slab_fold_block(plan.slabs), 0, s>>>(partials, plan.slabs, cols, y);
}

#define RSD_INSTANTIATE_REDUCE(T)                                                      \
  template void reduce_sum<T>(const T*, T*, int64_t, float, void*, cudaStream_t);      \
  template void sum_rows<T>(const T*, T*, int64_t, int64_t, void*, cudaStream_t);

RSD_INSTANTIATE_REDUCE(float)
RSD_INSTANTIATE_REDUCE(__nv_bfloat16)

#undef RSD_INSTANTIATE_REDUCE

}  // namespace rsd::kernels
