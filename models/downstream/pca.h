// Principal component analysis of embeddings (dense mode reduces D-dim features to 64, as Google's
// Satellite Embedding dataset ships them).
//
//   CovarianceSum sum(D);
//   sum.add(rows, n);                          // (n, D) float32 rows, any number of calls
//   Pca pca = fit_pca(sum, 64);                // mean (D), components (64, D), explained ratio
//   pca.project(v, out);                       // out_j = components_j . (v - mean), j < 64
//   write_pca_npy("x.pca.npy", pca);           // (1 + 64, D) float64: row 0 the mean, then components
//
// The covariance is accumulated in float64 around a shift (the first batch's mean), which keeps
// the sums of squares from cancelling when features have a large common offset: with s = sum of
// (x - shift) and S = sum of (x - shift)(x - shift)^T over N rows, mean = shift + s / N and the
// covariance is (S - s s^T / N) / (N - 1) (NumPy's np.cov). S is updated with one GEMM per batch
// (engine/cpu/gemm.h), so 50k rows of D = 2048 take seconds, and memory is D x D doubles.
// The components are the eigenvectors of the k largest eigenvalues (models/downstream/pca_eigen.h:
// LAPACK's dsyevr), unit length and mutually orthogonal, signs fixed (largest-magnitude entry positive); the
// explained variance ratio is the sum of those eigenvalues over the covariance's trace.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rsd::downstream {

class CovarianceSum {
 public:
  explicit CovarianceSum(int64_t dim);
  // Adds n rows of dim floats each (row-major).
  void add(const float* rows, int64_t n);
  int64_t dim() const { return dim_; }
  int64_t count() const { return count_; }
  std::vector<double> mean() const;        // (D,)
  std::vector<double> covariance() const;  // (D, D), divided by N - 1; needs count() >= 2

 private:
  int64_t dim_ = 0, count_ = 0;
  std::vector<double> shift_;  // (D,)
  std::vector<double> sum_;    // (D,): sum of (x - shift)
  std::vector<double> cross_;  // (D, D): sum of (x - shift)(x - shift)^T
};

struct Pca {
  int64_t dim = 0;                // D, the input features
  int64_t components = 0;         // k
  std::vector<double> mean;       // (D,)
  std::vector<double> basis;      // (k, D): row j is component j
  std::vector<double> variances;  // (k,): eigenvalue of each component
  double explained = 0;           // sum of variances / total variance
  int64_t samples = 0;            // rows the fit saw

  // out[j] = basis_j . (v - mean) for j < k; v holds D floats.
  void project(const float* v, double* out) const;
  // project() of n rows (n, D) into out (n, k), through one GEMM per call.
  void project_rows(const float* rows, int64_t n, double* out) const;
};

// The top k principal components of what `sum` saw (2 <= count, 1 <= k <= D).
Pca fit_pca(const CovarianceSum& sum, int64_t k);

// The sidecar for users: (1 + k, D) float64, row 0 the mean, rows 1..k the components.
void write_pca_npy(const std::string& path, const Pca& pca);

}  // namespace rsd::downstream
