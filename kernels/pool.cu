// Max pooling (forward with argmax, gather-style backward) and global average pooling, NHWC.
#include "pool.cuh"

#include "common.cuh"

namespace rsd::kernels {
namespace {

struct PoolShape {
  int N, H, W, C, kh, kw, stride, pad, P, Q;
};

// y, argmax: (N, P, Q, C); one thread per output element, c fastest so warps read adjacent
// channels of the same pixel.
template <typename T>
__global__ void maxpool_forward_kernel(const T* x, T* y, int32_t* argmax, PoolShape sh, int64_t total) {
  for (int64_t i = global_thread(); i < total; i += grid_threads()) {
    const int c = static_cast<int>(i % sh.C);
    int64_t t = i / sh.C;
    const int q = static_cast<int>(t % sh.Q);
    t /= sh.Q;
    const int p = static_cast<int>(t % sh.P);
    const int64_t n = t / sh.P;
    const T* img = x + n * sh.H * sh.W * sh.C + c;  // (H, W) plane of channel c, stride C
    const int h0 = p * sh.stride - sh.pad;
    const int w0 = q * sh.stride - sh.pad;
    float best = -INFINITY;
    int32_t best_idx = -1;
    for (int a = 0; a < sh.kh; ++a) {
      const int h = h0 + a;
      if (h < 0 || h >= sh.H) continue;
      for (int b = 0; b < sh.kw; ++b) {
        const int w = w0 + b;
        if (w < 0 || w >= sh.W) continue;
        const int32_t flat = h * sh.W + w;
        const float v = to_float(img[static_cast<int64_t>(flat) * sh.C]);
        // The first in-bounds element always enters (so padding never wins); later ones must be
        // strictly larger, or the first NaN.
        if (best_idx < 0 || v > best || (isnan(v) && !isnan(best))) {
          best = v;
          best_idx = flat;
        }
      }
    }
    y[i] = from_float<T>(best);
    argmax[i] = best_idx;
  }
}

// First window index (along one axis) whose range [o*stride - pad, o*stride - pad + k) holds
// position `pos`, and one past the last, clipped to [0, out).
__device__ __forceinline__ int2 windows_covering(int pos, int k, int stride, int pad, int out) {
  const int padded = pos + pad;
  const int first = padded < k ? 0 : (padded - k) / stride + 1;
  const int last = min(padded / stride + 1, out);
  return make_int2(first, last);
}

// gx: (N, H, W, C); one thread per input element gathers gy from the windows that chose it.
template <typename T>
__global__ void maxpool_backward_kernel(const T* gy, const int32_t* argmax, T* gx, PoolShape sh, int64_t total) {
  for (int64_t i = global_thread(); i < total; i += grid_threads()) {
    const int c = static_cast<int>(i % sh.C);
    int64_t t = i / sh.C;
    const int w = static_cast<int>(t % sh.W);
    t /= sh.W;
    const int h = static_cast<int>(t % sh.H);
    const int64_t n = t / sh.H;
    const int32_t flat = h * sh.W + w;
    const int2 pr = windows_covering(h, sh.kh, sh.stride, sh.pad, sh.P);
    const int2 qr = windows_covering(w, sh.kw, sh.stride, sh.pad, sh.Q);
    const int64_t base = n * sh.P * sh.Q * sh.C + c;
    float acc = 0.0f;
    for (int p = pr.x; p < pr.y; ++p) {
      for (int q = qr.x; q < qr.y; ++q) {
        const int64_t o = base + (static_cast<int64_t>(p) * sh.Q + q) * sh.C;
        if (argmax[o] == flat) acc += to_float(gy[o]);
      }
    }
    gx[i] = from_float<T>(acc);
  }
}

// x: (N, HW, C) -> y: (N, C). Block b covers image b / col_tiles and kColTile channels;
// threadIdx.y lanes take interleaved pixels, then the lane sums are added in lane order.
template <typename T>
__global__ void avgpool_forward_kernel(const T* x, T* y, int HW, int C, int col_tiles) {
  __shared__ float lane_sums[kRowLanes][kColTile];
  const int64_t n = blockIdx.x / col_tiles;
  const int c = static_cast<int>(blockIdx.x % col_tiles) * kColTile + threadIdx.x;
  float acc = 0.0f;
  if (c < C) {
    for (int i = threadIdx.y; i < HW; i += kRowLanes) acc += to_float(x[(n * HW + i) * C + c]);
  }
  lane_sums[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && c < C) {
    float total = 0.0f;
#pragma unroll
    for (int k = 0; k < kRowLanes; ++k) total += lane_sums[k][threadIdx.x];
    y[n * C + c] = from_float<T>(HW > 0 ? total / static_cast<float>(HW) : 0.0f);
  }
}

// gx: (N, HW, C), one thread per element.
template <typename T>
__global__ void avgpool_backward_kernel(const T* gy, T* gx, int HW, int C, int64_t total) {
  const int64_t image = static_cast<int64_t>(HW) * C;
  for (int64_t i = global_thread(); i < total; i += grid_threads()) {
    const int64_t n = i / image;
    const int c = static_cast<int>(i % C);
    gx[i] = from_float<T>(to_float(gy[n * C + c]) / static_cast<float>(HW));
  }
}

}  // namespace

template <typename T>
void maxpool2d_forward(const T* x, T* y, int32_t* argmax, int N, int H, int W, int C, int kh, int kw,
                       int stride, int pad, int P, int Q, cudaStream_t s) {
  const int64_t total = static_cast<int64_t>(N) * P * Q * C;
  if (total <= 0) return;
  const PoolShape sh{N, H, W, C, kh, kw, stride, pad, P, Q};
  maxpool_forward_kernel<T><<<grid_for(total), kBlock, 0, s>>>(x, y, argmax, sh, total);
}

template <typename T>
void maxpool2d_backward(const T* gy, const int32_t* argmax, T* gx, int N, int H, int W, int C, int kh,
                        int kw, int stride, int pad, int P, int Q, cudaStream_t s) {
  const int64_t total = static_cast<int64_t>(N) * H * W * C;
  if (total <= 0) return;
  const PoolShape sh{N, H, W, C, kh, kw, stride, pad, P, Q};
  maxpool_backward_kernel<T><<<grid_for(total), kBlock, 0, s>>>(gy, argmax, gx, sh, total);
}

template <typename T>
void global_avgpool_forward(const T* x, T* y, int N, int HW, int C, cudaStream_t s) {
  if (N <= 0 || C <= 0) return;
  const int col_tiles = static_cast<int>(ceil_div(C, kColTile));
  const int64_t blocks = static_cast<int64_t>(N) * col_tiles;
  avgpool_forward_kernel<T><<<static_cast<unsigned>(blocks), dim3(kColTile, kRowLanes), 0, s>>>(x, y, HW, C,
                                                                                                 col_tiles);
}

template <typename T>
void global_avgpool_backward(const T* gy, T* gx, int N, int HW, int C, cudaStream_t s) {
  const int64_t total = static_cast<int64_t>(N) * HW * C;
  if (total <= 0) return;
  avgpool_backward_kernel<T><<<grid_for(total), kBlock, 0, s>>>(gy, gx, HW, C, total);
}

#define RSD_INSTANTIATE_POOL(T)                                                                       \
  template void maxpool2d_forward<T>(const T*, T*, int32_t*, int, int, int, int, int, int, int, int,  \
                                     int, int, cudaStream_t);                                         \
  template void maxpool2d_backward<T>(const T*, const int32_t*, T*, int, int, int, int, int, int, int, \
                                      int, int, int, cudaStream_t);                                   \
  template void global_avgpool_forward<T>(const T*, T*, int, int, int, cudaStream_t);                \
  template void global_avgpool_backward<T>(const T*, T*, int, int, int, cudaStream_t);

RSD_INSTANTIATE_POOL(float)
RSD_INSTANTIATE_POOL(__nv_bfloat16)

#undef RSD_INSTANTIATE_POOL

}  // namespace rsd::kernels
