// Device buffers of the emulated-kernel tests: memory from the emulator's device_alloc (poisoned
// with 0xff bytes, a NaN in f32 and bf16, and a guard page after the end), filled from and read
// back to doubles through the storage type's rounding.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "tests/emulation/simt.h"

namespace rsd::test {

template <typename T>
T to_storage(double v) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    return __float2bfloat16_rn(static_cast<float>(v));
  } else if constexpr (std::is_same_v<T, __half>) {
    return __float2half_rn(static_cast<float>(v));
  } else {
    return static_cast<T>(v);
  }
}

template <typename T>
double to_double(T v) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    return static_cast<double>(__bfloat162float(v));
  } else if constexpr (std::is_same_v<T, __half>) {
    return static_cast<double>(__half2float(v));
  } else {
    return static_cast<double>(v);
  }
}

// The values as T would store them, back in double (what the reference must see).
template <typename T>
std::vector<double> rounded(const std::vector<double>& v) {
  std::vector<double> out(v.size());
  std::transform(v.begin(), v.end(), out.begin(), [](double x) { return to_double(to_storage<T>(x)); });
  return out;
}

template <typename T>
class DeviceArray {
 public:
  explicit DeviceArray(int64_t n)
      : n_(std::max<int64_t>(n, 0)), p_(static_cast<T*>(emu::device_alloc(static_cast<size_t>(n_) * sizeof(T)))) {}
  explicit DeviceArray(const std::vector<double>& v) : DeviceArray(static_cast<int64_t>(v.size())) {
    for (size_t i = 0; i < v.size(); ++i) p_[i] = to_storage<T>(v[i]);
  }
  ~DeviceArray() { emu::device_free(p_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  T* get() const { return p_; }
  int64_t size() const { return n_; }
  std::vector<double> doubles() const {
    std::vector<double> out(static_cast<size_t>(n_));
    for (int64_t i = 0; i < n_; ++i) out[static_cast<size_t>(i)] = to_double(p_[i]);
    return out;
  }

 private:
  int64_t n_;
  T* p_;
};

// |got - want| / |want| (1e-12 floor); +inf for a non-finite got.
inline double relative_error(double got, double want) {
  return std::isfinite(got) ? std::fabs(got - want) / std::max(std::fabs(want), 1e-12) : INFINITY;
}

}  // namespace rsd::test
