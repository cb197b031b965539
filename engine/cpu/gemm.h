// Row-major GEMM on the CPU: C(M,N) = alpha * op(A) op(B) + beta * C, where op(A) is (M,K) and
// op(B) is (K,N). A is stored (M,K) with leading dimension lda >= K, or (K,M) with lda >= M when
// trans_a; B likewise (K,N) / (N,K); C is (M,N) with ldc >= N. When beta is 0, C is not read
// (it may hold NaN). gemm goes through CBLAS when the build found one (RSD_HAVE_BLAS), else it is
// gemm_reference, a plain i-k-j loop that the tests also compare the BLAS path with.
#pragma once
#include <cstdint>
#include <string>

namespace rsd::cpu {

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

template <typename T>
void gemm_reference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                    int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// True when gemm goes through a CBLAS library (for test and log output).
bool gemm_uses_blas();

// What computes gemm, for logs and test output: "OpenBLAS 0.3.21 (Haswell kernel)", "CBLAS" or
// "plain loops". OpenBLAS picks its kernel from the CPU at load time (or OPENBLAS_CORETYPE), and
// kernels round differently: a result that depends on it must not be trusted to a tight bound.
std::string gemm_library();
// OpenBLAS's kernel name ("Haswell", "SkylakeX", ...), or "" for any other GEMM.
std::string blas_kernel_name();

// The threads one gemm call may use (OpenBLAS's pool; a no-op for another GEMM). Set through
// rsd::set_thread_budget (engine/threads.h), which keeps every CPU backend within one budget.
void set_gemm_threads(int n);

}  // namespace rsd::cpu
