// The PCA of `rsd embed --dense` (models/downstream/pca.h, pca_eigen.h): LAPACK's eigenpairs of
// matrices with a known spectrum; the streamed float64 covariance against a two-pass one; the
// components and the projections.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/error.h"
#include "models/downstream/pca.h"
#include "models/downstream/pca_eigen.h"
#include "models/downstream/seeded_stream.h"
#include "tests/support/embed_test_util.h"
#include "tests/support/harness.h"

using namespace rsd;
using test::max_relative_error;
using test::orthonormality_error;

namespace {

// A seeded random orthogonal matrix (n, n), rows orthonormal: Gram-Schmidt (twice) of uniform rows.
std::vector<double> random_orthogonal(int64_t n, uint64_t seed) {
  downstream::SeededStream rng(seed);
  std::vector<double> q(static_cast<size_t>(n * n));
  for (double& x : q) x = static_cast<double>(rng.next() >> 11) / 9007199254740992.0 - 0.5;
  for (int64_t i = 0; i < n; ++i) {
    double* qi = q.data() + i * n;
    for (int pass = 0; pass < 2; ++pass)
      for (int64_t j = 0; j < i; ++j) {
        const double* qj = q.data() + j * n;
        double c = 0;
        for (int64_t t = 0; t < n; ++t) c += qi[t] * qj[t];
        for (int64_t t = 0; t < n; ++t) qi[t] -= c * qj[t];
      }
    double norm = 0;
    for (int64_t t = 0; t < n; ++t) norm += qi[t] * qi[t];
    for (int64_t t = 0; t < n; ++t) qi[t] /= std::sqrt(norm);
  }
  return q;
}

// sum_i values[i] q_i q_i^T over the rows q_i of q: a symmetric matrix with known eigenpairs.
std::vector<double> with_eigenpairs(const std::vector<double>& q, const std::vector<double>& values, int64_t n) {
  std::vector<double> a(static_cast<size_t>(n * n), 0.0);
  for (size_t i = 0; i < values.size(); ++i)
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c = 0; c < n; ++c)
        a[static_cast<size_t>(r * n + c)] += values[i] * q[i * static_cast<size_t>(n) + static_cast<size_t>(r)] *
                                             q[i * static_cast<size_t>(n) + static_cast<size_t>(c)];
  return a;
}

// max_i |A v_i - values[i] v_i| over the eigenpairs of e, for the (n, n) matrix a.
double eigen_residual(const downstream::SymmetricEigen& e, const std::vector<double>& a, int64_t n) {
  double worst = 0;
  for (int64_t i = 0; i < e.count(); ++i) {
    const double* v = e.vectors.data() + i * n;
    double s = 0;
    for (int64_t r = 0; r < n; ++r) {
      double av = 0;
      for (int64_t c = 0; c < n; ++c) av += a[static_cast<size_t>(r * n + c)] * v[c];
      const double d = av - e.values[static_cast<size_t>(i)] * v[r];
      s += d * d;
    }
    worst = std::max(worst, std::sqrt(s));
  }
  return worst;
}

// Checks an eigensolver's result for the symmetric (n, n) matrix a against its known eigenpairs
// (q's rows, values descending and distinct): eigenvalues to rel_tol of the largest, each vector
// parallel to its q row, A v = lambda v to 1e-12 of the largest, the vectors orthonormal.
void check_eigenpairs(const downstream::SymmetricEigen& e, const std::vector<double>& a, const std::vector<double>& q,
                      const std::vector<double>& values, int64_t n, double rel_tol) {
  REQUIRE(e.count() <= static_cast<int64_t>(values.size()));
  const double scale = std::fabs(values[0]);
  for (int64_t i = 0; i < e.count(); ++i) {
    CAPTURE(i);
    CHECK(std::fabs(e.values[static_cast<size_t>(i)] - values[static_cast<size_t>(i)]) <= rel_tol * scale);
    double d = 0;
    for (int64_t t = 0; t < n; ++t) d += e.vectors[static_cast<size_t>(i * n + t)] * q[static_cast<size_t>(i * n + t)];
    CHECK(std::fabs(std::fabs(d) - 1.0) <= 1e-9);
  }
  CHECK(eigen_residual(e, a, n) <= 1e-12 * scale);
  CHECK(orthonormality_error(e.vectors, e.count(), n) <= 1e-12);
}

}  // namespace

TEST_SUITE("downstream") {
  TEST_CASE("embed --dense PCA: the eigensolvers find known eigenpairs" * doctest::skip(!downstream::have_lapack())) {
    // Every eigenpair: distinct eigenvalues of both signs.
    const int64_t n = 24;
    const std::vector<double> q = random_orthogonal(n, 11);
    std::vector<double> values;
    for (int64_t i = 0; i < n; ++i) values.push_back(9.0 - 0.7 * static_cast<double>(i));  // 9 .. -7.1
    const std::vector<double> a24 = with_eigenpairs(q, values, n);
    const downstream::SymmetricEigen all = downstream::top_eigenpairs(a24, n, n);
    CHECK(all.count() == n);
    check_eigenpairs(all, a24, q, values, n, 1e-12);

    // The 12 largest of a geometric spectrum.
    const int64_t big = 300;
    const std::vector<double> qb = random_orthogonal(big, 12);
    std::vector<double> spectrum;
    for (int64_t i = 0; i < big; ++i) spectrum.push_back(50.0 * std::pow(0.9, static_cast<double>(i)));
    const std::vector<double> a = with_eigenpairs(qb, spectrum, big);
    const downstream::SymmetricEigen top = downstream::top_eigenpairs(a, big, 12);
    CHECK(top.count() == 12);
    check_eigenpairs(top, a, qb, spectrum, big, 1e-9);
    // The leading block of the small matrix.
    const downstream::SymmetricEigen small = downstream::top_eigenpairs(a24, n, 5);
    CHECK(small.count() == 5);
    check_eigenpairs(small, a24, q, values, n, 1e-12);

    // Rank 3 < k: the top 3 exact, the rest 0 (vectors of the null space, still orthonormal).
    const std::vector<double> rank3 = with_eigenpairs(qb, {7.0, 5.0, 2.0}, big);
    const downstream::SymmetricEigen low = downstream::top_eigenpairs(rank3, big, 6);
    REQUIRE(low.count() == 6);
    check_eigenpairs(
        downstream::SymmetricEigen{
            big, {low.values.begin(), low.values.begin() + 3}, {low.vectors.begin(), low.vectors.begin() + 3 * big}},
        rank3, qb, {7.0, 5.0, 2.0}, big, 1e-9);
    for (int64_t i = 3; i < 6; ++i) CHECK(std::fabs(low.values[static_cast<size_t>(i)]) <= 1e-9);
    CHECK(orthonormality_error(low.vectors, 6, big) <= 1e-12);
    CHECK(eigen_residual(low, rank3, big) <= 1e-12 * 7.0);

    // Bad input is refused with errors that say what is wrong.
    std::vector<double> nan = a24;
    nan[5] = std::nan("");
    CHECK_THROWS_WITH_AS(downstream::top_eigenpairs(nan, n, 3), doctest::Contains("non-finite"), Error);
    CHECK_THROWS_WITH_AS(downstream::top_eigenpairs(a24, n, n + 1), doctest::Contains("k = 25"), Error);
    CHECK_THROWS_WITH_AS(downstream::top_eigenpairs(a24, n + 1, 3), doctest::Contains("expected n x n"), Error);
  }

  TEST_CASE("embed --dense PCA: the streamed covariance equals a two-pass float64 one; components, projection" *
            doctest::skip(!downstream::have_lapack())) {
    // 500 rows of D = 20 with a large common offset (as features have), added in 3 batches.
    const int64_t rows = 500, d = 20;
    downstream::SeededStream rng(21);
    std::vector<float> x(static_cast<size_t>(rows * d));
    const auto uniform = [&] { return static_cast<double>(rng.next() >> 11) / 9007199254740992.0 - 0.5; };
    for (int64_t r = 0; r < rows; ++r) {
      const double shared = uniform();  // every third feature also carries it: correlations
      for (int64_t k = 0; k < d; ++k)
        x[static_cast<size_t>(r * d + k)] =
            static_cast<float>(1000.0 + uniform() * (1.0 + static_cast<double>(k)) + (k % 3 == 0 ? 2.0 * shared : 0.0));
    }
    downstream::CovarianceSum sum(d);
    sum.add(x.data(), 120);
    sum.add(x.data() + 120 * d, 1);
    sum.add(x.data() + 121 * d, rows - 121);
    CHECK(sum.count() == rows);
    std::vector<double> mean(static_cast<size_t>(d), 0.0), cov(static_cast<size_t>(d * d), 0.0);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = 0; k < d; ++k)
        mean[static_cast<size_t>(k)] += x[static_cast<size_t>(r * d + k)] / static_cast<double>(rows);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < d; ++i)
        for (int64_t j = 0; j < d; ++j)
          cov[static_cast<size_t>(i * d + j)] += (x[static_cast<size_t>(r * d + i)] - mean[static_cast<size_t>(i)]) *
                                                 (x[static_cast<size_t>(r * d + j)] - mean[static_cast<size_t>(j)]) /
                                                 static_cast<double>(rows - 1);
    CHECK(max_relative_error(mean, sum.mean(), 1e-12) < 1e-12);
    CHECK(max_relative_error(cov, sum.covariance(), 1e-6) < 1e-9);

    const downstream::Pca pca = downstream::fit_pca(sum, 5);
    CHECK(pca.components == 5);
    CHECK(orthonormality_error(pca.basis, 5, d) <= 1e-12);
    double trace = 0, kept = 0;
    for (int64_t i = 0; i < d; ++i) trace += cov[static_cast<size_t>(i * d + i)];
    for (int64_t j = 0; j < 5; ++j) {
      // cov c_j = variance_j c_j, variances descending.
      const double lambda = pca.variances[static_cast<size_t>(j)];
      kept += lambda;
      if (j > 0) CHECK(lambda <= pca.variances[static_cast<size_t>(j - 1)]);
      for (int64_t i = 0; i < d; ++i) {
        double cv = 0;
        for (int64_t k = 0; k < d; ++k)
          cv += cov[static_cast<size_t>(i * d + k)] * pca.basis[static_cast<size_t>(j * d + k)];
        CHECK(cv == doctest::Approx(lambda * pca.basis[static_cast<size_t>(j * d + i)]).epsilon(1e-9).scale(lambda));
      }
    }
    CHECK(pca.explained == doctest::Approx(kept / trace).epsilon(1e-12));
    // project and project_rows: c_j . (v - mean).
    std::vector<double> one(5), many(static_cast<size_t>(3 * 5));
    pca.project_rows(x.data() + 7 * d, 3, many.data());
    for (int64_t r = 0; r < 3; ++r) {
      pca.project(x.data() + (7 + r) * d, one.data());
      for (int64_t j = 0; j < 5; ++j) {
        double y = 0;
        for (int64_t k = 0; k < d; ++k)
          y += pca.basis[static_cast<size_t>(j * d + k)] *
               (x[static_cast<size_t>((7 + r) * d + k)] - mean[static_cast<size_t>(k)]);
        CHECK(one[static_cast<size_t>(j)] == doctest::Approx(y).epsilon(1e-9).scale(1.0));
        CHECK(many[static_cast<size_t>(r * 5 + j)] == doctest::Approx(y).epsilon(1e-9).scale(1.0));
      }
    }
  }
}
