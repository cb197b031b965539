#include "models/downstream/pca_eigen.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "engine/cpu/gemm.h"
#include "engine/error.h"
#include "models/downstream/seeded_stream.h"

namespace rsd::downstream {

namespace {

constexpr int64_t kWholeJacobiMax = 256;  // jacobi_eigen on the whole matrix up to this n
constexpr int kMaxSweeps = 100;
constexpr int64_t kMaxSteps = 1000;
constexpr double kResidualTolerance = 1e-10;

size_t at(int64_t i, int64_t j, int64_t n) { return static_cast<size_t>(i * n + j); }

double dot(const double* a, const double* b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

// Flips v (n entries) so that its entry of largest magnitude (the first such) is positive.
void fix_sign(double* v, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (std::fabs(v[i]) > std::fabs(v[best])) best = i;
  if (v[best] < 0)
    for (int64_t i = 0; i < n; ++i) v[i] = -v[i];
}

// Orders the pairs (values[i], row i of vectors (m, n)) by descending value; keeps the first `keep`.
void sort_descending(std::vector<double>& values, std::vector<double>& vectors, int64_t n, int64_t keep) {
  std::vector<size_t> order(values.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return values[a] > values[b]; });
  std::vector<double> v(static_cast<size_t>(keep)), rows(static_cast<size_t>(keep * n));
  for (int64_t i = 0; i < keep; ++i) {
    const size_t src = order[static_cast<size_t>(i)];
    v[static_cast<size_t>(i)] = values[src];
    std::copy_n(vectors.begin() + static_cast<std::ptrdiff_t>(src * static_cast<size_t>(n)), n,
                rows.begin() + static_cast<std::ptrdiff_t>(i * n));
  }
  values = std::move(v);
  vectors = std::move(rows);
}

double uniform_pm1(SeededStream& rng) {
  return static_cast<double>(rng.next() >> 11) * (2.0 / 9007199254740992.0) - 1.0;  // [-1, 1)
}

// Modified Gram-Schmidt, twice, on the rows of q (m, n): afterwards they are orthonormal. A row
// that is (numerically) in the span of the ones before it, as happens when the matrix has rank < m,
// is replaced by a random vector and orthonormalized again.
void orthonormalize_rows(std::vector<double>& q, int64_t m, int64_t n, SeededStream& rng) {
  for (int64_t i = 0; i < m; ++i) {
    double* qi = q.data() + i * n;
    for (int attempt = 0;; ++attempt) {
      const double before = std::sqrt(dot(qi, qi, n));
      for (int pass = 0; pass < 2; ++pass)
        for (int64_t j = 0; j < i; ++j) {
          const double* qj = q.data() + j * n;
          const double c = dot(qi, qj, n);
          for (int64_t t = 0; t < n; ++t) qi[t] -= c * qj[t];
        }
      const double after = std::sqrt(dot(qi, qi, n));
      if (after > 1e-10 * before && after > std::numeric_limits<double>::min()) {
        for (int64_t t = 0; t < n; ++t) qi[t] /= after;
        break;
      }
      RSD_CHECK(attempt < 8, "top_eigen: cannot find ", m, " orthonormal vectors in ", n, " dimensions");
      for (int64_t t = 0; t < n; ++t) qi[t] = uniform_pm1(rng);
    }
  }
}

}  // namespace

SymmetricEigen jacobi_eigen(std::vector<double> a, int64_t n) {
  RSD_CHECK(n >= 1 && a.size() == static_cast<size_t>(n * n), "jacobi_eigen: a holds ", a.size(),
            " values, expected n x n with n = ", n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) a[at(i, j, n)] = a[at(j, i, n)] = 0.5 * (a[at(i, j, n)] + a[at(j, i, n)]);
  std::vector<double> v(static_cast<size_t>(n * n), 0.0);  // accumulated rotations: columns are eigenvectors
  for (int64_t i = 0; i < n; ++i) v[at(i, i, n)] = 1.0;
  double total = 0;
  for (double x : a) total += x * x;
  SymmetricEigen r;
  r.n = n;
  for (int sweep = 0; sweep < kMaxSweeps; ++sweep) {
    double off = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = i + 1; j < n; ++j) off += 2 * a[at(i, j, n)] * a[at(i, j, n)];
    if (off <= 1e-30 * total) break;
    r.steps = sweep + 1;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q) {
        const double apq = a[at(p, q, n)];
        if (apq == 0) continue;
        // The rotation J (c at (p,p) and (q,q), s at (p,q), -s at (q,p)) that zeroes entry (p, q) of
        // J^T A J: t = s / c solves t^2 - 2 theta t - 1 = 0; the root of smaller magnitude keeps
        // the rotation below 45 degrees, which is what makes the sweeps converge.
        const double theta = (a[at(p, p, n)] - a[at(q, q, n)]) / (2 * apq);
        const double t = (theta >= 0 ? -1.0 : 1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int64_t k = 0; k < n; ++k) {  // A J: columns p and q
          const double akp = a[at(k, p, n)], akq = a[at(k, q, n)];
          a[at(k, p, n)] = c * akp - s * akq;
          a[at(k, q, n)] = s * akp + c * akq;
        }
        for (int64_t k = 0; k < n; ++k) {  // J^T (A J): rows p and q
          const double apk = a[at(p, k, n)], aqk = a[at(q, k, n)];
          a[at(p, k, n)] = c * apk - s * aqk;
          a[at(q, k, n)] = s * apk + c * aqk;
        }
        a[at(p, q, n)] = a[at(q, p, n)] = 0;
        for (int64_t k = 0; k < n; ++k) {  // V J
          const double vkp = v[at(k, p, n)], vkq = v[at(k, q, n)];
          v[at(k, p, n)] = c * vkp - s * vkq;
          v[at(k, q, n)] = s * vkp + c * vkq;
        }
      }
  }
  r.values.resize(static_cast<size_t>(n));
  r.vectors.resize(static_cast<size_t>(n * n));
  for (int64_t i = 0; i < n; ++i) {
    r.values[static_cast<size_t>(i)] = a[at(i, i, n)];
    for (int64_t k = 0; k < n; ++k) r.vectors[at(i, k, n)] = v[at(k, i, n)];
  }
  sort_descending(r.values, r.vectors, n, n);
  for (int64_t i = 0; i < n; ++i) fix_sign(r.vectors.data() + i * n, n);
  double off = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      if (i != j) off += a[at(i, j, n)] * a[at(i, j, n)];
  r.converged = off <= 1e-28 * std::max(total, std::numeric_limits<double>::min());
  return r;
}

SymmetricEigen top_eigen(const std::vector<double>& a, int64_t n, int64_t k, uint64_t seed) {
  RSD_CHECK(n >= 1 && a.size() == static_cast<size_t>(n * n), "top_eigen: a holds ", a.size(),
            " values, expected n x n with n = ", n);
  RSD_CHECK(k >= 1 && k <= n, "top_eigen: k = ", k, " eigenpairs asked of a ", n, " x ", n, " matrix");
  SymmetricEigen r;
  if (n <= kWholeJacobiMax) {
    r = jacobi_eigen(a, n);
    sort_descending(r.values, r.vectors, n, k);
  } else {
    // q (b, n): the block, one vector per row; z = q A (= (A q^T)^T, A symmetric).
    const int64_t b = std::min(n, std::max(2 * k, k + 16));
    SeededStream rng(seed);
    std::vector<double> q(static_cast<size_t>(b * n)), z(q.size()), rotated(q.size()), h(static_cast<size_t>(b * b));
    for (double& x : q) x = uniform_pm1(rng);
    orthonormalize_rows(q, b, n, rng);
    r.n = n;
    r.converged = false;
    for (r.steps = 1; r.steps <= kMaxSteps; ++r.steps) {
      cpu::gemm<double>(false, false, b, n, n, 1.0, q.data(), n, a.data(), n, 0.0, z.data(), n);
      // Rayleigh-Ritz: h = q A q^T (b, b); its eigenvectors rotate q (and z) onto the Ritz vectors.
      cpu::gemm<double>(false, true, b, b, n, 1.0, q.data(), n, z.data(), n, 0.0, h.data(), b);
      const SymmetricEigen small = jacobi_eigen(h, b);
      cpu::gemm<double>(false, false, b, n, b, 1.0, small.vectors.data(), b, q.data(), n, 0.0, rotated.data(), n);
      std::swap(q, rotated);
      cpu::gemm<double>(false, false, b, n, b, 1.0, small.vectors.data(), b, z.data(), n, 0.0, rotated.data(), n);
      std::swap(z, rotated);
      const double scale = std::max(std::fabs(small.values[0]), std::numeric_limits<double>::min());
      double worst = 0;
      for (int64_t i = 0; i < k; ++i) {
        const double theta = small.values[static_cast<size_t>(i)];
        double s = 0;
        for (int64_t t = 0; t < n; ++t) {
          const double d = z[at(i, t, n)] - theta * q[at(i, t, n)];
          s += d * d;
        }
        worst = std::max(worst, std::sqrt(s) / scale);
      }
      r.residual = worst;
      r.values.assign(small.values.begin(), small.values.begin() + k);
      r.vectors.assign(q.begin(), q.begin() + k * n);
      if (worst <= kResidualTolerance) {
        r.converged = true;
        break;
      }
      q = z;
      orthonormalize_rows(q, b, n, rng);
    }
    r.steps = std::min(r.steps, kMaxSteps);
    for (int64_t i = 0; i < k; ++i) fix_sign(r.vectors.data() + i * n, n);
    return r;
  }
  // Residuals of the Jacobi result (for the same report as the iterative path).
  const double scale = std::max(std::fabs(r.values[0]), std::numeric_limits<double>::min());
  for (int64_t i = 0; i < k; ++i) {
    double s = 0;
    for (int64_t row = 0; row < n; ++row) {
      const double av = dot(a.data() + row * n, r.vectors.data() + i * n, n);
      const double d = av - r.values[static_cast<size_t>(i)] * r.vectors[at(i, row, n)];
      s += d * d;
    }
    r.residual = std::max(r.residual, std::sqrt(s) / scale);
  }
  return r;
}

}  // namespace rsd::downstream
