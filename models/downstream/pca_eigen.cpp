#include "models/downstream/pca_eigen.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

#include "engine/error.h"

#if RSD_HAVE_LAPACK
// LAPACK's Fortran interface (no LAPACKE header is needed): every argument by reference, 32-bit
// integers (OpenBLAS's LP64 build), and the lengths of the character arguments last, as gfortran
// passes them.
extern "C" void dsyevr_(const char* jobz, const char* range, const char* uplo, const int* n, double* a, const int* lda,
                        const double* vl, const double* vu, const int* il, const int* iu, const double* abstol, int* m,
                        double* w, double* z, const int* ldz, int* isuppz, double* work, const int* lwork, int* iwork,
                        const int* liwork, int* info, size_t jobz_len, size_t range_len, size_t uplo_len);
#endif

namespace rsd::downstream {

namespace {

// Flips v (n entries) so that its entry of largest magnitude (the first such) is positive.
void fix_sign(double* v, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (std::fabs(v[i]) > std::fabs(v[best])) best = i;
  if (v[best] < 0)
    for (int64_t i = 0; i < n; ++i) v[i] = -v[i];
}

}  // namespace

bool have_lapack() { return RSD_HAVE_LAPACK != 0; }

SymmetricEigen top_eigenpairs(const std::vector<double>& a, int64_t n, int64_t k) {
  RSD_CHECK(n >= 1 && a.size() == static_cast<size_t>(n * n), "top_eigenpairs: a holds ", a.size(),
            " values, expected n x n with n = ", n);
  RSD_CHECK(k >= 1 && k <= n, "top_eigenpairs: k = ", k, " eigenpairs asked of a ", n, " x ", n, " matrix");
  RSD_CHECK(n <= std::numeric_limits<int>::max() / n, "top_eigenpairs: a ", n, " x ", n,
            " matrix is beyond LAPACK's 32-bit sizes");
  for (double x : a)
    RSD_CHECK(std::isfinite(x), "PCA: the ", n, " x ", n, " covariance matrix holds a non-finite value (", x,
              "): an embedding value is NaN or infinite, or the features are too large for float64 sums");
#if !RSD_HAVE_LAPACK
  fail("the PCA needs LAPACK (dsyevr) and this build of rsd found none: install OpenBLAS (libopenblas-dev) and ",
       "configure again, or keep all dimensions (--format float32 without --dims)");
#else
  // The symmetric part; being symmetric, it reads the same in LAPACK's column-major order.
  std::vector<double> s(a);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) {
      const auto ij = static_cast<size_t>(i * n + j), ji = static_cast<size_t>(j * n + i);
      s[ij] = s[ji] = 0.5 * (a[ij] + a[ji]);
    }
  const int dim = static_cast<int>(n), lower = static_cast<int>(n - k + 1), upper = dim;  // 1-based, ascending
  const double unused = 0, abstol = 0;  // abstol 0: LAPACK's default tolerance
  int found = 0, info = 0;
  std::vector<double> w(static_cast<size_t>(n)), z(static_cast<size_t>(n * k));
  std::vector<int> support(static_cast<size_t>(2 * k));
  const auto call = [&](double* work, int lwork, int* iwork, int liwork) {
    dsyevr_("V", "I", "L", &dim, s.data(), &dim, &unused, &unused, &lower, &upper, &abstol, &found, w.data(), z.data(),
            &dim, support.data(), work, &lwork, iwork, &liwork, &info, 1, 1, 1);
  };
  double work_size = 0;
  int iwork_size = 0;
  call(&work_size, -1, &iwork_size, -1);  // the workspace query
  RSD_CHECK(info == 0, "PCA: LAPACK dsyevr's workspace query failed (info ", info, ") for a ", n, " x ", n, " matrix");
  std::vector<double> work(static_cast<size_t>(work_size));
  std::vector<int> iwork(static_cast<size_t>(iwork_size));
  call(work.data(), static_cast<int>(work.size()), iwork.data(), static_cast<int>(iwork.size()));
  RSD_CHECK(info == 0, "PCA: LAPACK dsyevr failed (info ", info,
            info < 0 ? ": an invalid argument, a bug in rsd" : ": an internal error of the eigensolver", ") on a ", n,
            " x ", n, " covariance matrix; a non-finite embedding value makes it so too");
  RSD_CHECK(found == k, "PCA: LAPACK dsyevr returned ", found, " eigenpairs of the ", k, " asked for");
  // Column j of z (n values) is the eigenvector of w[j], ascending: row k - 1 - j of the result.
  SymmetricEigen r;
  r.n = n;
  r.values.resize(static_cast<size_t>(k));
  r.vectors.resize(static_cast<size_t>(k * n));
  for (int64_t j = 0; j < k; ++j) {
    const int64_t row = k - 1 - j;
    r.values[static_cast<size_t>(row)] = w[static_cast<size_t>(j)];
    std::copy_n(z.begin() + static_cast<std::ptrdiff_t>(j * n), n,
                r.vectors.begin() + static_cast<std::ptrdiff_t>(row * n));
    fix_sign(r.vectors.data() + row * n, n);
  }
  return r;
#endif
}

}  // namespace rsd::downstream
