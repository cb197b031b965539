#include "engine/cpu/gemm.h"

#include <algorithm>
#include <climits>

#include "engine/error.h"

// RSD_HAVE_BLAS comes from the rsd::blas CMake target (engine/CMakeLists.txt links it privately).
#ifndef RSD_HAVE_BLAS
#define RSD_HAVE_BLAS 0
#endif
#if RSD_HAVE_BLAS
#include <cblas.h>
#endif

namespace rsd::cpu {

namespace {

void check_args(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldb, int64_t ldc) {
  RSD_CHECK(m >= 0 && n >= 0 && k >= 0, "gemm: negative size M=", m, " N=", n, " K=", k);
  // A stored row-major holds op(A) (M,K) or its transpose (K,M): a row is K or M long.
  const int64_t a_row = trans_a ? m : k;
  const int64_t b_row = trans_b ? k : n;
  RSD_CHECK(lda >= std::max<int64_t>(1, a_row) && ldb >= std::max<int64_t>(1, b_row) &&
                ldc >= std::max<int64_t>(1, n),
            "gemm: leading dimensions lda=", lda, " ldb=", ldb, " ldc=", ldc, " too small for M=", m, " N=", n,
            " K=", k, " trans_a=", trans_a, " trans_b=", trans_b);
}

#if RSD_HAVE_BLAS
bool fits_blas_int(int64_t v) { return v <= INT_MAX; }

void blas_gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, float alpha, const float* a, int lda,
               const float* b, int ldb, float beta, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void blas_gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, double alpha, const double* a, int lda,
               const double* b, int ldb, double beta, double* c, int ldc) {
  cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
#endif

}  // namespace

template <typename T>
void gemm_reference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                    int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  check_args(trans_a, trans_b, m, n, k, lda, ldb, ldc);
  for (int64_t i = 0; i < m; ++i) {
    T* c_row = c + i * ldc;
    // beta == 0 overwrites: C may be uninitialized (NaN-poisoned in tests).
    for (int64_t j = 0; j < n; ++j) c_row[j] = beta == T(0) ? T(0) : beta * c_row[j];
    for (int64_t p = 0; p < k; ++p) {
      const T a_ip = alpha * (trans_a ? a[p * lda + i] : a[i * lda + p]);
      if (trans_b) {
        for (int64_t j = 0; j < n; ++j) c_row[j] += a_ip * b[j * ldb + p];
      } else {
        const T* b_row = b + p * ldb;
        for (int64_t j = 0; j < n; ++j) c_row[j] += a_ip * b_row[j];
      }
    }
  }
}

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
#if RSD_HAVE_BLAS
  check_args(trans_a, trans_b, m, n, k, lda, ldb, ldc);
  // Empty products only scale C: the loop does that without BLAS's stricter argument rules.
  const bool blas_ok = m > 0 && n > 0 && k > 0 && fits_blas_int(m) && fits_blas_int(n) && fits_blas_int(k) &&
                       fits_blas_int(lda) && fits_blas_int(ldb) && fits_blas_int(ldc);
  if (blas_ok) {
    blas_gemm(trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, static_cast<int>(m),
              static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb),
              beta, c, static_cast<int>(ldc));
    return;
  }
#endif
  gemm_reference(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

bool gemm_uses_blas() { return RSD_HAVE_BLAS != 0; }

void set_gemm_threads(int n) {
#if RSD_HAVE_BLAS && defined(OPENBLAS_VERSION)
  openblas_set_num_threads(n);
#else
  (void)n;
#endif
}

std::string blas_kernel_name() {
#if RSD_HAVE_BLAS && defined(OPENBLAS_VERSION)
  const char* name = openblas_get_corename();
  return name != nullptr ? name : "";
#else
  return "";
#endif
}

std::string gemm_library() {
#if RSD_HAVE_BLAS && defined(OPENBLAS_VERSION)
  // OPENBLAS_VERSION reads " OpenBLAS 0.3.21 ".
  std::string version = OPENBLAS_VERSION;
  version.erase(0, version.find_first_not_of(' '));
  version.erase(version.find_last_not_of(' ') + 1);
  return str_cat(version, " (", blas_kernel_name(), " kernel)");
#elif RSD_HAVE_BLAS
  return "CBLAS";
#else
  return "plain loops";
#endif
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t,
                          float, float*, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t, const double*,
                           int64_t, double, double*, int64_t);
template void gemm_reference<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                                    const float*, int64_t, float, float*, int64_t);
template void gemm_reference<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                                     const double*, int64_t, double, double*, int64_t);

}  // namespace rsd::cpu
