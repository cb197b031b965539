// Eigenvectors of a real symmetric matrix, for the PCA of dense embeddings (models/downstream/pca.h).
// Written here rather than taken from LAPACK so that rsd needs no further library; both solvers
// work in float64 on the CPU.
//
//   jacobi_eigen(a, n): every eigenpair of an n x n matrix by cyclic Jacobi rotations (O(n^3) per
//     sweep, a handful of sweeps): exact to rounding, used whole for n <= 256 and for the small
//     Rayleigh-Ritz matrices of the solver below.
//   top_eigen(a, n, k, seed): the k largest eigenpairs by subspace iteration (block power
//     iteration) with Rayleigh-Ritz on a block of b = min(n, 2k, k + 16 at least) vectors: each step
//     multiplies the block by A (one GEMM, engine/cpu/gemm.h), rotates it onto the Ritz vectors and
//     re-orthonormalizes. Ritz pair i converges like (lambda_{b+1} / lambda_i)^step; it stops when
//     every one of the k residuals |A v - theta v| is below 1e-10 |theta_1|, or after 1000 steps
//     (then `converged` is false and the vectors are still an orthonormal basis of the subspace
//     found). For n <= 256 it is jacobi_eigen, truncated.
// Eigenvectors come out as rows, in descending eigenvalue order, each with its entry of largest
// magnitude positive (so that the result does not depend on the solver's signs).
#pragma once
#include <cstdint>
#include <vector>

namespace rsd::downstream {

struct SymmetricEigen {
  int64_t n = 0;                // the matrix is n x n
  std::vector<double> values;   // (count,), descending
  std::vector<double> vectors;  // (count, n): row i is the unit eigenvector of values[i]
  int64_t steps = 0;            // Jacobi sweeps, or subspace iterations
  double residual = 0;          // max_i |A v_i - values[i] v_i| / max(|values[0]|, tiny)
  bool converged = true;
  int64_t count() const { return static_cast<int64_t>(values.size()); }
};

// a: (n, n) row-major and symmetric (only the symmetric part is used: (a + a^T) / 2).
SymmetricEigen jacobi_eigen(std::vector<double> a, int64_t n);

// The k largest eigenpairs (1 <= k <= n) of the symmetric (n, n) matrix a; `seed` draws the
// starting block.
SymmetricEigen top_eigen(const std::vector<double>& a, int64_t n, int64_t k, uint64_t seed);

}  // namespace rsd::downstream
