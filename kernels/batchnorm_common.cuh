// Device code shared by batch norm (batchnorm.cu) and synchronized batch norm
// (sync_batchnorm.cu), nvcc only: the slab moments of the statistics and their merge, storing a
// channel's statistics, the per-column normalize pass, the backward's slab partials and the
// input-gradient pass. Both ops call the same code, so one rank of SyncBN computes what
// batch norm does from the same statistics. Layout: (M, C) rows, blocks of (kColTile, kRowLanes)
// threads over a column tile (common.cuh).
#pragma once
#include "common.cuh"

namespace rsd::kernels::batchnorm_detail {

// Count, mean and sum of squared deviations of a set of values.
struct Moments {
  float n;
  float mean;
  float m2;
};

// Chan et al. parallel merge of b = (nb, mean_b, m2_b) into a.
__device__ __forceinline__ void merge_moments(Moments& a, float nb, float mean_b, float m2_b) {
  if (nb == 0.0f) return;
  const float n = a.n + nb;
  const float frac = nb / n;
  const float delta = mean_b - a.mean;
  a.mean += delta * frac;
  a.m2 += m2_b + delta * delta * a.n * frac;
  a.n = n;
}

// Moments of column c over rows first, first + kRowLanes, ... < end. Each group of
// kColumnUnroll rows gets an exact two-pass mean and m2 in registers, then one Chan merge (one
// division per group rather than per element).
template <typename T>
__device__ Moments column_moments(const T* x, int64_t C, int64_t c, int64_t first, int64_t end) {
  Moments acc{0.0f, 0.0f, 0.0f};
  for (int64_t r = first; r < end; r += kColumnUnroll * kRowLanes) {
    float v[kColumnUnroll];
    load_column(x, C, c, r, kRowLanes, end, v);
    const int64_t left = (end - r + kRowLanes - 1) / kRowLanes;  // rows of this group before end
    const int cnt = static_cast<int>(min64(left, kColumnUnroll));
    float sum = 0.0f;
#pragma unroll
    for (int k = 0; k < kColumnUnroll; ++k) sum += v[k];  // rows past end loaded as 0
    const float mean = sum / static_cast<float>(cnt);
    float m2 = 0.0f;
#pragma unroll
    for (int k = 0; k < kColumnUnroll; ++k) {
      const float d = v[k] - mean;
      if (k < cnt) m2 += d * d;
    }
    merge_moments(acc, static_cast<float>(cnt), mean, m2);
  }
  return acc;
}

// x: (M, C); partials: (slabs, C) of (mean, m2) over the slab's rows (their count follows from
// the slab index). Lanes threadIdx.y are merged in lane order.
template <typename T>
__global__ void stats_partials_kernel(const T* x, int64_t M, int64_t C, int64_t slab_rows, float2* partials) {
  __shared__ float lane_n[kRowLanes][kColTile];
  __shared__ float lane_mean[kRowLanes][kColTile];
  __shared__ float lane_m2[kRowLanes][kColTile];
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kColTile + threadIdx.x;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * slab_rows;
  const int64_t r1 = min64(M, r0 + slab_rows);
  Moments m{0.0f, 0.0f, 0.0f};
  if (c < C) m = column_moments(x, C, c, r0 + threadIdx.y, r1);
  lane_n[threadIdx.y][threadIdx.x] = m.n;
  lane_mean[threadIdx.y][threadIdx.x] = m.mean;
  lane_m2[threadIdx.y][threadIdx.x] = m.m2;
  __syncthreads();
  if (threadIdx.y != 0 || c >= C) return;
  for (int k = 1; k < kRowLanes; ++k)
    merge_moments(m, lane_n[k][threadIdx.x], lane_mean[k][threadIdx.x], lane_m2[k][threadIdx.x]);
  partials[blockIdx.y * C + c] = make_float2(m.mean, m.m2);
}

// (count, mean, m2) in double: counts pass 2^24 rows for large M, and SyncBN's per-rank moments
// are merged in it.
struct Moments64 {
  double n, mean, m2;
};

// Chan et al.'s merge of two sets; either may be empty (n = 0).
struct MergeMoments64 {
  __device__ Moments64 operator()(const Moments64& a, const Moments64& b) const {
    if (b.n == 0.0) return a;
    if (a.n == 0.0) return b;
    const double n = a.n + b.n;
    const double delta = b.mean - a.mean;
    return {n, a.mean + delta * (b.n / n), a.m2 + b.m2 + delta * delta * (a.n * b.n / n)};
  }
};

// Channel blockIdx.x * kColTile + threadIdx.x's (n, mean, m2) over all M rows, from
// stats_partials_kernel's slabs merged in double by fold_column_slabs (lanes over the slabs, then
// a tree). Every thread of a slab_fold_grid(C) x slab_fold_block(slabs) launch calls it; slabs
// may be 0 (no rows: n = 0, mean = m2 = 0).
__device__ __forceinline__ Moments64 fold_slab_moments(const float2* partials, int64_t M, int64_t C,
                                                       int64_t slab_rows, int64_t slabs) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kColTile + threadIdx.x;
  const auto slab = [&](int64_t k) {
    const float2 p = partials[k * C + c];
    return Moments64{static_cast<double>(min64(slab_rows, M - k * slab_rows)), p.x, p.y};
  };
  return fold_column_slabs(c < C ? slabs : 0, Moments64{0.0, 0.0, 0.0}, slab, MergeMoments64{});
}

// y = (x - mean) * (gamma * invstd) + beta per column. With kFromVar, `stat` holds variances and
// invstd = 1 / sqrt(var + eps); otherwise it holds invstd. gamma, beta may be null (1, 0).
// Grid: column_apply_grid(M, C).
template <typename T, bool kFromVar>
__global__ void normalize_kernel(const T* x, const float* gamma, const float* beta, const float* mean,
                                 const float* stat, float eps, T* y, int64_t M, int64_t C) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kColTile + threadIdx.x;
  if (c >= C) return;
  const float invstd = kFromVar ? 1.0f / sqrtf(stat[c] + eps) : stat[c];
  const float scale = (gamma != nullptr ? gamma[c] : 1.0f) * invstd;
  const float shift = beta != nullptr ? beta[c] : 0.0f;
  const float mu = mean[c];
  const int64_t step = static_cast<int64_t>(gridDim.y) * kRowLanes;
  for (int64_t r = static_cast<int64_t>(blockIdx.y) * kRowLanes + threadIdx.y; r < M; r += kColumnUnroll * step) {
    float v[kColumnUnroll];
    load_column(x, C, c, r, step, M, v);
#pragma unroll
    for (int k = 0; k < kColumnUnroll; ++k) {
      const int64_t rr = r + k * step;
      if (rr < M) y[rr * C + c] = from_float<T>((v[k] - mu) * scale + shift);
    }
  }
}

// Channel c's statistics from its mean and variance (biased; `unbiased` feeds the running
// variance, as PyTorch does): save_mean, save_invstd for the normalize and the backward, and the
// running statistics (either may be null) moved by momentum.
__device__ __forceinline__ void store_channel_stats(int64_t c, double mean, double var, double unbiased,
                                                    float momentum, float eps, float* save_mean, float* save_invstd,
                                                    float* running_mean, float* running_var) {
  save_mean[c] = static_cast<float>(mean);
  save_invstd[c] = static_cast<float>(1.0 / sqrt(var + static_cast<double>(eps)));
  if (running_mean != nullptr)
    running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * static_cast<float>(mean);
  if (running_var != nullptr)
    running_var[c] = (1.0f - momentum) * running_var[c] + momentum * static_cast<float>(unbiased);
}

// x, gy: (M, C); partials: (slabs, C) of (sum gy, sum gy * (x - mean)) over the slab's rows,
// the kRowLanes lanes added in lane order. Grid: (column tiles, slabs).
template <typename T>
__global__ void grad_partials_kernel(const T* x, const T* gy, const float* mean, int64_t M, int64_t C,
                                     int64_t slab_rows, float2* partials) {
  __shared__ float lane_g[kRowLanes][kColTile];
  __shared__ float lane_gx[kRowLanes][kColTile];
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kColTile + threadIdx.x;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * slab_rows;
  const int64_t r1 = min64(M, r0 + slab_rows);
  float sg = 0.0f, sgx = 0.0f;
  if (c < C) {
    const float mu = mean[c];
    for (int64_t r = r0 + threadIdx.y; r < r1; r += kColumnUnroll * kRowLanes) {
      float g[kColumnUnroll], v[kColumnUnroll];
      load_column(gy, C, c, r, kRowLanes, r1, g);
      load_column(x, C, c, r, kRowLanes, r1, v);
#pragma unroll
      for (int k = 0; k < kColumnUnroll; ++k) {  // rows past r1 have g = 0 and add nothing
        sg += g[k];
        sgx += g[k] * (v[k] - mu);
      }
    }
  }
  lane_g[threadIdx.y][threadIdx.x] = sg;
  lane_gx[threadIdx.y][threadIdx.x] = sgx;
  __syncthreads();
  if (threadIdx.y != 0 || c >= C) return;
  for (int k = 1; k < kRowLanes; ++k) {
    sg += lane_g[k][threadIdx.x];
    sgx += lane_gx[k][threadIdx.x];
  }
  partials[blockIdx.y * C + c] = make_float2(sg, sgx);
}

// The input gradient of column c over all rows: gx = k * (gy - db - xhat * dg) with
// k = gamma * invstd, xhat = (x - mu) * istd, and db = sum gy / n, dg = sum gy xhat / n for the
// batch's n rows (the caller's choice of where the sums come from). One thread of a
// column_apply_grid(M, C) launch.
template <typename T>
__device__ __forceinline__ void grad_input_column(const T* x, const T* gy, T* gx, int64_t M, int64_t C, int64_t c,
                                                  float k, float mu, float istd, float db, float dg) {
  const int64_t step = static_cast<int64_t>(gridDim.y) * kRowLanes;
  for (int64_t r = static_cast<int64_t>(blockIdx.y) * kRowLanes + threadIdx.y; r < M; r += kColumnUnroll * step) {
    float v[kColumnUnroll], g[kColumnUnroll];
    load_column(x, C, c, r, step, M, v);
    load_column(gy, C, c, r, step, M, g);
#pragma unroll
    for (int u = 0; u < kColumnUnroll; ++u) {
      const int64_t rr = r + u * step;
      const float xhat = (v[u] - mu) * istd;
      if (rr < M) gx[rr * C + c] = from_float<T>(k * (g[u] - db - xhat * dg));
    }
  }
}

// Adds two (sum gy, sum gy * (x - mean)) pairs.
struct AddDouble2 {
  __device__ double2 operator()(const double2& a, const double2& b) const { return make_double2(a.x + b.x, a.y + b.y); }
};

// From the slabs' (gy, gy * (x - mean)) partials, added in double (fold_column_slabs: lanes over
// the slabs, then a tree of lanes): dbeta = sum gy, dgamma = invstd * sum gy * (x - mean); with
// `sums` (SyncBN, else null) also [dbeta (C), dgamma (C)] in double, for the all-reduce.
// Grid: slab_fold_grid(C), block: slab_fold_block(slabs); slabs may be 0 (no rows: zeros).
static __global__ void grad_finalize_kernel(const float2* partials, const float* invstd, int64_t C, int64_t slabs,
                                            double* sums, float* dgamma, float* dbeta) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kColTile + threadIdx.x;
  const auto slab = [&](int64_t k) {
    const float2 p = partials[k * C + c];
    return make_double2(p.x, p.y);
  };
  const double2 s = fold_column_slabs(c < C ? slabs : 0, make_double2(0.0, 0.0), slab, AddDouble2{});
  if (threadIdx.y != 0 || c >= C) return;
  const double sg = s.x, sgx = s.y * invstd[c];
  if (sums != nullptr) {
    sums[c] = sg;
    sums[C + c] = sgx;
  }
  dbeta[c] = static_cast<float>(sg);
  dgamma[c] = static_cast<float>(sgx);
}

}  // namespace rsd::kernels::batchnorm_detail
