#include "models/downstream/pca.h"

#include <algorithm>

#include "engine/cpu/gemm.h"
#include "engine/error.h"
#include "engine/npy.h"
#include "engine/tensor.h"
#include "models/downstream/pca_eigen.h"

namespace rsd::downstream {

CovarianceSum::CovarianceSum(int64_t dim)
    : dim_(dim),
      shift_(static_cast<size_t>(dim), 0.0),
      sum_(static_cast<size_t>(dim), 0.0),
      cross_(static_cast<size_t>(dim * dim), 0.0) {
  RSD_CHECK(dim >= 1, "CovarianceSum: dimension ", dim, " must be positive");
}

void CovarianceSum::add(const float* rows, int64_t n) {
  if (n <= 0) return;
  const int64_t d = dim_;
  if (count_ == 0) {  // the shift: this first batch's mean
    for (int64_t r = 0; r < n; ++r)
      for (int64_t k = 0; k < d; ++k) shift_[static_cast<size_t>(k)] += static_cast<double>(rows[r * d + k]);
    for (double& s : shift_) s /= static_cast<double>(n);
  }
  std::vector<double> centred(static_cast<size_t>(n * d));  // (n, D): x - shift
  for (int64_t r = 0; r < n; ++r)
    for (int64_t k = 0; k < d; ++k) {
      const double x = static_cast<double>(rows[r * d + k]) - shift_[static_cast<size_t>(k)];
      centred[static_cast<size_t>(r * d + k)] = x;
      sum_[static_cast<size_t>(k)] += x;
    }
  cpu::gemm<double>(true, false, d, d, n, 1.0, centred.data(), d, centred.data(), d, 1.0, cross_.data(), d);
  count_ += n;
}

std::vector<double> CovarianceSum::mean() const {
  RSD_CHECK(count_ >= 1, "CovarianceSum: no rows were added");
  std::vector<double> m(shift_);
  for (size_t k = 0; k < m.size(); ++k) m[k] += sum_[k] / static_cast<double>(count_);
  return m;
}

std::vector<double> CovarianceSum::covariance() const {
  RSD_CHECK(count_ >= 2, "CovarianceSum: a covariance needs at least 2 rows, ", count_, " were added");
  const auto n = static_cast<double>(count_);
  std::vector<double> c(cross_.size());
  for (int64_t i = 0; i < dim_; ++i)
    for (int64_t j = 0; j < dim_; ++j) {
      const auto ij = static_cast<size_t>(i * dim_ + j);
      c[ij] = (cross_[ij] - sum_[static_cast<size_t>(i)] * sum_[static_cast<size_t>(j)] / n) / (n - 1);
    }
  return c;
}

void Pca::project(const float* v, double* out) const {
  for (int64_t j = 0; j < components; ++j) {
    const double* b = basis.data() + j * dim;
    double s = 0;
    for (int64_t k = 0; k < dim; ++k) s += b[k] * (static_cast<double>(v[k]) - mean[static_cast<size_t>(k)]);
    out[j] = s;
  }
}

void Pca::project_rows(const float* rows, int64_t n, double* out) const {
  if (n <= 0) return;
  std::vector<double> centred(static_cast<size_t>(n * dim));  // (n, D)
  for (int64_t r = 0; r < n; ++r)
    for (int64_t k = 0; k < dim; ++k)
      centred[static_cast<size_t>(r * dim + k)] = static_cast<double>(rows[r * dim + k]) - mean[static_cast<size_t>(k)];
  cpu::gemm<double>(false, true, n, components, dim, 1.0, centred.data(), dim, basis.data(), dim, 0.0, out, components);
}

Pca fit_pca(const CovarianceSum& sum, int64_t k) {
  RSD_CHECK(k >= 1 && k <= sum.dim(), "fit_pca: ", k, " components asked of ", sum.dim(), "-dimensional features");
  const std::vector<double> cov = sum.covariance();
  const SymmetricEigen eig = top_eigenpairs(cov, sum.dim(), k);
  Pca p;
  p.dim = sum.dim();
  p.components = k;
  p.mean = sum.mean();
  p.basis = eig.vectors;
  p.variances = eig.values;
  p.samples = sum.count();
  double trace = 0, kept = 0;
  for (int64_t i = 0; i < p.dim; ++i) trace += cov[static_cast<size_t>(i * p.dim + i)];
  for (double v : p.variances) kept += std::max(v, 0.0);
  p.explained = trace > 0 ? kept / trace : 0.0;
  return p;
}

void write_pca_npy(const std::string& path, const Pca& pca) {
  std::vector<double> table(pca.mean);
  table.insert(table.end(), pca.basis.begin(), pca.basis.end());
  write_npy(path, Tensor::from_vector(table, {1 + pca.components, pca.dim}, DType::f64));
}

}  // namespace rsd::downstream
