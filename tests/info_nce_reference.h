// An independent float64 reference for info_nce_loss (engine/ops/info_nce.h), written plainly:
// explicit softmax matrices, the chain rule through S = a_hat b_hat^T / tau, and the Jacobian of
// the row normalization. Shared by the CPU and CUDA loss tests.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace rsd::test {

struct InfoNceReference {
  double loss = 0.0;
  std::vector<double> da, db;  // (N, D), (M, D)
  double dtau = 0.0;
};

// A: (N, D), B: (M, D) row-major doubles; g: the gradient of the loss.
inline InfoNceReference info_nce_reference(const std::vector<double>& A, const std::vector<double>& B, int64_t N,
                                           int64_t M, int64_t D, double tau, int64_t offset, bool symmetric,
                                           double eps, double g) {
  const auto at = [D](const std::vector<double>& x, int64_t r, int64_t d) { return x[static_cast<size_t>(r * D + d)]; };
  // Normalized rows and their (unclamped) norms.
  const auto normalize = [&](const std::vector<double>& x, int64_t rows, std::vector<double>& hat,
                             std::vector<double>& norm) {
    hat.assign(static_cast<size_t>(rows * D), 0.0);
    norm.assign(static_cast<size_t>(rows), 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      double ss = 0.0;
      for (int64_t d = 0; d < D; ++d) ss += at(x, r, d) * at(x, r, d);
      norm[static_cast<size_t>(r)] = std::sqrt(ss);
      for (int64_t d = 0; d < D; ++d)
        hat[static_cast<size_t>(r * D + d)] = at(x, r, d) / std::max(norm[static_cast<size_t>(r)], eps);
    }
  };
  std::vector<double> a_hat, b_hat, na, nb;
  normalize(A, N, a_hat, na);
  normalize(B, M, b_hat, nb);

  std::vector<std::vector<double>> S(static_cast<size_t>(N), std::vector<double>(static_cast<size_t>(M), 0.0));
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < M; ++j) {
      double dot = 0.0;
      for (int64_t d = 0; d < D; ++d) dot += at(a_hat, i, d) * at(b_hat, j, d);
      S[static_cast<size_t>(i)][static_cast<size_t>(j)] = dot / tau;
    }

  // P: softmax of each row of S over all M columns; Q: softmax of each positive column
  // j = offset + c over the N rows (Q[i][c] = softmax_k S[k][offset + c] at k = i).
  std::vector<std::vector<double>> P = S, Q(static_cast<size_t>(N), std::vector<double>(static_cast<size_t>(N), 0.0));
  double loss_row = 0.0, loss_col = 0.0;
  for (int64_t i = 0; i < N; ++i) {
    auto& row = P[static_cast<size_t>(i)];
    const double mx = *std::max_element(row.begin(), row.end());
    double sum = 0.0;
    for (double& v : row) sum += std::exp(v - mx);
    for (double& v : row) v = std::exp(v - mx) / sum;
    loss_row += -std::log(row[static_cast<size_t>(offset + i)]);
  }
  for (int64_t c = 0; c < N; ++c) {
    const size_t j = static_cast<size_t>(offset + c);
    double mx = S[0][j];
    for (int64_t k = 1; k < N; ++k) mx = std::max(mx, S[static_cast<size_t>(k)][j]);
    double sum = 0.0;
    for (int64_t k = 0; k < N; ++k) sum += std::exp(S[static_cast<size_t>(k)][j] - mx);
    for (int64_t k = 0; k < N; ++k)
      Q[static_cast<size_t>(k)][static_cast<size_t>(c)] = std::exp(S[static_cast<size_t>(k)][j] - mx) / sum;
    loss_col += -std::log(Q[static_cast<size_t>(c)][static_cast<size_t>(c)]);
  }
  InfoNceReference ref;
  const double n = static_cast<double>(N);
  ref.loss = symmetric ? (loss_row + loss_col) / (2.0 * n) : loss_row / n;

  // dL/dS: row term (P - onehot) / N, column term (Q - onehot) / N on the positive columns.
  const double w_row = g / (symmetric ? 2.0 * n : n), w_col = symmetric ? g / (2.0 * n) : 0.0;
  std::vector<double> da_hat(static_cast<size_t>(N * D), 0.0), db_hat(static_cast<size_t>(M * D), 0.0);
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < M; ++j) {
      const double onehot = j == offset + i ? 1.0 : 0.0;
      double dS = w_row * (P[static_cast<size_t>(i)][static_cast<size_t>(j)] - onehot);
      if (j >= offset && j < offset + N)
        dS += w_col * (Q[static_cast<size_t>(i)][static_cast<size_t>(j - offset)] - onehot);
      // S = <a_hat_i, b_hat_j> / tau.
      ref.dtau += dS * (-S[static_cast<size_t>(i)][static_cast<size_t>(j)] / tau);
      for (int64_t d = 0; d < D; ++d) {
        da_hat[static_cast<size_t>(i * D + d)] += dS * at(b_hat, j, d) / tau;
        db_hat[static_cast<size_t>(j * D + d)] += dS * at(a_hat, i, d) / tau;
      }
    }

  // Through x_hat = x / max(|x|, eps): the Jacobian (I - x_hat x_hat^T) / |x| above eps, I / eps
  // at or below it (where the forward divides by the constant eps).
  const auto through_norm = [&](const std::vector<double>& ghat, const std::vector<double>& hat,
                                const std::vector<double>& norm, int64_t rows) {
    std::vector<double> gx(static_cast<size_t>(rows * D), 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      const double nr = norm[static_cast<size_t>(r)];
      for (int64_t d = 0; d < D; ++d) {
        double v = 0.0;
        for (int64_t e = 0; e < D; ++e) {
          const double jac = nr > eps ? ((d == e ? 1.0 : 0.0) - at(hat, r, d) * at(hat, r, e)) / nr
                                      : (d == e ? 1.0 / eps : 0.0);
          v += jac * ghat[static_cast<size_t>(r * D + e)];
        }
        gx[static_cast<size_t>(r * D + d)] = v;
      }
    }
    return gx;
  };
  ref.da = through_norm(da_hat, a_hat, na, N);
  ref.db = through_norm(db_hat, b_hat, nb, M);
  return ref;
}

// ||got - ref|| / ||ref|| (L2 over all elements); +inf when got holds a NaN or infinity.
inline double relative_l2(const std::vector<double>& ref, const std::vector<double>& got) {
  if (ref.size() != got.size()) return INFINITY;
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    num += (got[i] - ref[i]) * (got[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return std::sqrt(num / std::max(den, 1e-300));
}

}  // namespace rsd::test
