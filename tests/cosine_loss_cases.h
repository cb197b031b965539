// Cosine-loss test rows shared by the CUDA suite (tests/test_cuda_losses.cpp) and the emulated
// kernels (tests/emulation/test_emulated_losses.cpp). Plain C++.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

namespace rsd::test {

// Rows 0-4 of p, z (at least 5 rows of D): p = 0; z = 0; both 0; p = z; p = -z. Each has its
// own edge of the loss: a clamped norm, a zero target, both, a zero gradient, the maximal loss.
inline void make_cosine_special_rows(int64_t D, std::vector<double>& p, std::vector<double>& z) {
  const auto row = [D](std::vector<double>& v, int64_t r) { return v.begin() + r * D; };
  std::fill(row(p, 0), row(p, 1), 0.0);
  std::fill(row(z, 1), row(z, 2), 0.0);
  std::fill(row(p, 2), row(p, 3), 0.0);
  std::fill(row(z, 2), row(z, 3), 0.0);
  std::copy(row(z, 3), row(z, 4), row(p, 3));
  for (int64_t d = 0; d < D; ++d) p[static_cast<size_t>(4 * D + d)] = -z[static_cast<size_t>(4 * D + d)];
}

}  // namespace rsd::test
