// Softmax cross-entropy. A group of kGroup threads owns a row (a warp for short rows, the whole
// block for long ones); the log-sum-exp is an online (max, scaled sum) reduction merged in a fixed
// order, so results are deterministic.
#include "softmax_xent.cuh"

#include "common.cuh"

namespace rsd::kernels {
namespace {

constexpr int64_t kBlockRowMin = 1024;

// Running max m and sum s of exp(v - m) over the values seen so far.
struct MaxSum {
  float m;
  float s;
};

__device__ __forceinline__ void add_value(MaxSum& a, float v) {
  if (v > a.m) {
    a.s = a.s * expf(a.m - v) + 1.0f;  // a.m == -inf: expf(-inf) = 0
    a.m = v;
  } else if (v != -INFINITY) {
    a.s += expf(v - a.m);  // a NaN v makes s NaN, which propagates to the loss
  }
}

// Symmetric in its arguments, so the xor butterfly gives every lane the same result.
__device__ __forceinline__ MaxSum merge(MaxSum a, MaxSum b) {
  const float m = fmaxf(a.m, b.m);
  if (m == -INFINITY) return a;
  return MaxSum{m, a.s * expf(a.m - m) + b.s * expf(b.m - m)};
}

__device__ __forceinline__ MaxSum warp_merge(MaxSum a) {
#pragma unroll
  for (int k = 16; k > 0; k >>= 1) {
    const MaxSum b{__shfl_xor_sync(0xffffffffu, a.m, k), __shfl_xor_sync(0xffffffffu, a.s, k)};
    a = merge(a, b);
  }
  return a;
}

// Merge over the kGroup threads owning a row; every thread of the group gets the result.
template <int kGroup>
__device__ MaxSum group_merge(MaxSum a) {
  a = warp_merge(a);
  if constexpr (kGroup > 32) {
    constexpr int kWarps = kGroup / 32;
    __shared__ MaxSum warp_results[kWarps];
    __shared__ MaxSum total;
    const int lane = threadIdx.x % 32;
    const int warp = threadIdx.x / 32;
    if (lane == 0) warp_results[warp] = a;
    __syncthreads();
    if (warp == 0) {
      MaxSum w = lane < kWarps ? warp_results[lane] : MaxSum{-INFINITY, 0.0f};
      w = warp_merge(w);
      if (lane == 0) total = w;
    }
    __syncthreads();
    a = total;
  }
  return a;
}

// logits: (N, K). Row ownership as in l2norm: block b, group g takes rows b * groups + g + k * grid.
template <typename T, int kGroup>
__global__ void xent_forward_kernel(const T* logits, const int32_t* labels, float* row_loss, float* row_lse,
                                    int64_t N, int64_t K) {
  constexpr int kGroups = kBlock / kGroup;
  const int lane = threadIdx.x % kGroup;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * kGroups + threadIdx.x / kGroup;
  for (int64_t r = first; r < N; r += static_cast<int64_t>(gridDim.x) * kGroups) {
    const T* row = logits + r * K;
    MaxSum acc{-INFINITY, 0.0f};
    for (int64_t j = lane; j < K; j += kGroup) add_value(acc, to_float(row[j]));
    acc = group_merge<kGroup>(acc);
    if (lane == 0) {
      const float lse = acc.m + logf(acc.s);
      row_lse[r] = lse;
      row_loss[r] = lse - to_float(row[labels[r]]);
    }
  }
}

// glogits: (N, K), written in full.
template <typename T, int kGroup>
__global__ void xent_backward_kernel(const T* logits, const int32_t* labels, const float* row_lse,
                                     const float* gloss, T* glogits, int64_t N, int64_t K) {
  constexpr int kGroups = kBlock / kGroup;
  const int lane = threadIdx.x % kGroup;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * kGroups + threadIdx.x / kGroup;
  const float scale = gloss[0] / static_cast<float>(N);
  for (int64_t r = first; r < N; r += static_cast<int64_t>(gridDim.x) * kGroups) {
    const T* row = logits + r * K;
    T* grow = glogits + r * K;
    const float lse = row_lse[r];
    const int64_t label = labels[r];
    for (int64_t j = lane; j < K; j += kGroup) {
      const float p = expf(to_float(row[j]) - lse);
      grow[j] = from_float<T>((p - (j == label ? 1.0f : 0.0f)) * scale);
    }
  }
}

int row_grid(int64_t rows, int groups_per_block) {
  return static_cast<int>(std::min<int64_t>(ceil_div(rows, groups_per_block), kMaxBlocks));
}

}  // namespace

template <typename T>
void softmax_xent_forward(const T* logits, const int32_t* labels, float* row_loss, float* row_lse, int64_t N,
                          int64_t K, cudaStream_t s) {
  if (N <= 0) return;
  if (K >= kBlockRowMin) {
    xent_forward_kernel<T, kBlock><<<row_grid(N, 1), kBlock, 0, s>>>(logits, labels, row_loss, row_lse, N, K);
  } else {
    xent_forward_kernel<T, 32><<<row_grid(N, kBlock / 32), kBlock, 0, s>>>(logits, labels, row_loss, row_lse, N, K);
  }
}

template <typename T>
void softmax_xent_backward(const T* logits, const int32_t* labels, const float* row_lse, const float* gloss,
                           T* glogits, int64_t N, int64_t K, cudaStream_t s) {
  if (N <= 0 || K <= 0) return;
  if (K >= kBlockRowMin) {
    xent_backward_kernel<T, kBlock><<<row_grid(N, 1), kBlock, 0, s>>>(logits, labels, row_lse, gloss, glogits, N, K);
  } else {
    xent_backward_kernel<T, 32>
        <<<row_grid(N, kBlock / 32), kBlock, 0, s>>>(logits, labels, row_lse, gloss, glogits, N, K);
  }
}

#define RSD_INSTANTIATE_XENT(T)                                                                               \
  template void softmax_xent_forward<T>(const T*, const int32_t*, float*, float*, int64_t, int64_t,          \
                                        cudaStream_t);                                                        \
  template void softmax_xent_backward<T>(const T*, const int32_t*, const float*, const float*, T*, int64_t,  \
                                         int64_t, cudaStream_t);

RSD_INSTANTIATE_XENT(float)
RSD_INSTANTIATE_XENT(__nv_bfloat16)

#undef RSD_INSTANTIATE_XENT

}  // namespace rsd::kernels
