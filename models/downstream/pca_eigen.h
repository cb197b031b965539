// The largest eigenpairs of a real symmetric matrix, for the PCA of dense embeddings
// (models/downstream/pca.h), by LAPACK's dsyevr (relatively robust representations: only the k
// eigenpairs asked for are computed, after one reduction to tridiagonal form), which OpenBLAS
// bundles. In float64 on the CPU.
//
// Eigenvectors come out as rows, in descending eigenvalue order, each with its entry of largest
// magnitude positive (so that the result does not depend on the solver's signs). A LAPACK failure
// (info != 0) is an rsd::Error; so is a call in a build that found no LAPACK (have_lapack()).
#pragma once
#include <cstdint>
#include <vector>

namespace rsd::downstream {

struct SymmetricEigen {
  int64_t n = 0;                // the matrix is n x n
  std::vector<double> values;   // (count,), descending
  std::vector<double> vectors;  // (count, n): row i is the unit eigenvector of values[i]
  int64_t count() const { return static_cast<int64_t>(values.size()); }
};

// The k largest eigenpairs (1 <= k <= n) of the symmetric (n, n) row-major matrix a (only its
// symmetric part is used: (a + a^T) / 2).
SymmetricEigen top_eigenpairs(const std::vector<double>& a, int64_t n, int64_t k);

// Whether this build links a LAPACK (cmake/RsdBlas.cmake); without one top_eigenpairs throws.
bool have_lapack();

}  // namespace rsd::downstream
