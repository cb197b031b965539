// The CPU reference pieces batch norm (engine/ops/batchnorm.cpp) and synchronized batch norm
// (engine/ops/sync_batchnorm.cpp) share, so that one rank of SyncBN does batch norm's arithmetic
// bit for bit. x, y, gy, gx are viewed as (M, C) rows; per-channel tensors (C) have x's dtype;
// every sum and product runs in double. Internal to those two files.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace rsd::cpu::batchnorm_rows {

inline int64_t channels(const Tensor& x) { return x.dim(-1); }
inline int64_t rows(const Tensor& x) { return channels(x) > 0 ? x.numel() / channels(x) : 0; }

template <typename T>
std::vector<double> to_doubles(const Tensor& v) {
  const T* p = v.data<T>();
  return std::vector<double>(p, p + v.numel());
}

// out[i] = values[i] rounded to T, for every element of out.
template <typename T>
void store(const double* values, Tensor& out) {
  T* p = out.data<T>();
  for (int64_t i = 0; i < out.numel(); ++i) p[i] = static_cast<T>(values[i]);
}

// y = (x - mean) * invstd * gamma + beta.
template <typename T>
void normalize(const Tensor& x, const Tensor& gamma, const Tensor& beta, const std::vector<double>& mean,
               const std::vector<double>& invstd, Tensor& y) {
  const int64_t M = rows(x), C = channels(x);
  const T* px = x.data<T>();
  const T* g = gamma.data<T>();
  const T* b = beta.data<T>();
  T* py = y.data<T>();
  for (int64_t r = 0; r < M; ++r)
    for (int64_t c = 0; c < C; ++c) {
      const double xhat = (static_cast<double>(px[r * C + c]) - mean[c]) * invstd[c];
      py[r * C + c] = static_cast<T>(xhat * static_cast<double>(g[c]) + static_cast<double>(b[c]));
    }
}

// dbeta (C) = sum_rows gy, dgamma (C) = sum_rows gy * xhat with xhat = (x - mean) * invstd.
template <typename T>
void affine_grads(const Tensor& x, const Tensor& gy, const std::vector<double>& mean,
                  const std::vector<double>& invstd, double* dgamma, double* dbeta) {
  const int64_t M = rows(x), C = channels(x);
  const T* px = x.data<T>();
  const T* pg = gy.data<T>();
  for (int64_t c = 0; c < C; ++c) dgamma[c] = dbeta[c] = 0.0;
  for (int64_t r = 0; r < M; ++r)
    for (int64_t c = 0; c < C; ++c) {
      const double g = static_cast<double>(pg[r * C + c]);
      dbeta[c] += g;
      dgamma[c] += g * (static_cast<double>(px[r * C + c]) - mean[c]) * invstd[c];
    }
}

// gx = gamma * invstd / n * (n * gy - dbeta - xhat * dgamma) for a batch of n rows whose sums
// dbeta, dgamma (C) are given (n = M for batch norm; the global count for SyncBN).
template <typename T>
void grad_input(const Tensor& x, const Tensor& gy, const Tensor& gamma, const std::vector<double>& mean,
                const std::vector<double>& invstd, const double* dbeta, const double* dgamma, double n, Tensor& gx) {
  const int64_t M = rows(x), C = channels(x);
  const T* px = x.data<T>();
  const T* pg = gy.data<T>();
  const T* g = gamma.data<T>();
  T* out = gx.data<T>();
  for (int64_t r = 0; r < M; ++r)
    for (int64_t c = 0; c < C; ++c) {
      const double xhat = (static_cast<double>(px[r * C + c]) - mean[c]) * invstd[c];
      const double k = static_cast<double>(g[c]) * invstd[c] / n;
      out[r * C + c] = static_cast<T>(k * (n * static_cast<double>(pg[r * C + c]) - dbeta[c] - xhat * dgamma[c]));
    }
}

}  // namespace rsd::cpu::batchnorm_rows
