// Batch normalization kernels (kernels/batchnorm.cu, kernels/sync_batchnorm.cu) on the CPU
// emulator (tests/emulation/simt.h) against the engine's CPU reference in float64
// (tests/emulation/cpu_oracle.h: engine/cpu/batchnorm.cpp) over x viewed as (M, C) rows, f32 and
// bf16: the training forward (batch statistics, running averages with PyTorch's unbiased rule,
// M = 1), the eval forward, the training backward, null gamma / beta / running pointers; and the
// synchronized pieces run as ranks of one batch (the all-gather of the ranks' moments is a host
// concatenation, merged on the device; the backward's all-reduce is a host sum of the ranks'
// double vectors; one rank may hold no rows), which must give the batch norm of the whole batch.
// Sizes: column tails of the 32-column tiles, several slabs with a shorter last one, slabs of
// more than 64 rows (C = 21857: 684 column tiles, 2 slabs of 66 and 65 rows, the unrolled row
// loop twice), the elementwise passes' row-block loop running twice (C = 262176: 8193
// column tiles, one row block of 8 lanes for 65 rows; f32), and finalizes with more slabs than
// their 32 lanes (fold_column_slabs in common.cuh: a lane merges several slabs, then the tree):
// C = 7 with 33 slabs (lane 0 alone takes two), C = 45 (two column tiles, the second 13 wide) with
// 101 slabs, the last one short. The reductions' results must not depend on the emulator's thread
// order (their lane sums meet in shared memory), also with the finalize's tree five levels deep.
//
// Bounds (test_emulated_checks.h): kF32Tol times the magnitude of each output's terms, plus one
// bf16 rounding for bf16 outputs. The per-channel vectors are f32 whatever T is.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <type_traits>
#include <vector>

#include "kernels/batchnorm.cuh"
#include "kernels/sync_batchnorm.cuh"
#include "tests/emulation/cpu_oracle.h"
#include "tests/emulation/device_array.h"
#include "tests/emulation/test_emulated_checks.h"

using namespace rsd;
using namespace rsd::test;

namespace {

constexpr double kEps = 1e-5;
constexpr double kMomentum = 0.1;

size_t at(int64_t r, int64_t c, int64_t C) { return static_cast<size_t>(r * C + c); }

// x: (M, C) with column c drawn around its own offset and spread (Welford must handle offsets).
std::vector<double> batch_values(int64_t M, int64_t C, uint64_t seed) {
  const std::vector<double> z = normal_values(M * C, seed);
  const std::vector<double> offset = uniform_values(C, seed + 1, -3.0, 3.0);
  const std::vector<double> spread = uniform_values(C, seed + 2, 0.5, 2.0);
  std::vector<double> x(z.size());
  for (int64_t r = 0; r < M; ++r)
    for (int64_t c = 0; c < C; ++c)
      x[at(r, c, C)] = offset[static_cast<size_t>(c)] + spread[static_cast<size_t>(c)] * z[at(r, c, C)];
  return x;
}

// The magnitude of each column's values, max_rows |x| (C): the scale of its mean.
std::vector<double> column_max_abs(const std::vector<double>& x, int64_t M, int64_t C) {
  std::vector<double> mx(static_cast<size_t>(C), 0.0);
  for (int64_t r = 0; r < M; ++r)
    for (int64_t c = 0; c < C; ++c)
      mx[static_cast<size_t>(c)] = std::max(mx[static_cast<size_t>(c)], std::fabs(x[at(r, c, C)]));
  return mx;
}

// The scale of y = (x - mean) * invstd * gamma + beta (empty gamma / beta: 1 / 0), element by
// element: |gamma| invstd (|x| + |mean|) + |beta|.
std::vector<double> normalize_scale(const std::vector<double>& x, int64_t M, int64_t C,
                                    const std::vector<double>& gamma, const std::vector<double>& beta,
                                    const std::vector<double>& mean, const std::vector<double>& invstd) {
  std::vector<double> scale(x.size());
  for (int64_t r = 0; r < M; ++r)
    for (int64_t c = 0; c < C; ++c) {
      const auto k = static_cast<size_t>(c);
      const double g = gamma.empty() ? 1.0 : gamma[k], b = beta.empty() ? 0.0 : beta[k];
      scale[at(r, c, C)] = std::fabs(g) * invstd[k] * (std::fabs(x[at(r, c, C)]) + std::fabs(mean[k])) + std::fabs(b);
    }
  return scale;
}

// The scales of the training backward's outputs with the given statistics over n = M rows:
// dbeta = sum gy: sum |gy|; dgamma = sum gy xhat: sum |gy| (|x| + |mean|) invstd; and
// gx = gamma invstd (gy - dbeta / n - xhat dgamma / n) term by term.
struct BackwardScale {
  std::vector<double> dbeta, dgamma, gx;
};

BackwardScale backward_scale(const std::vector<double>& x, const std::vector<double>& gy, int64_t M, int64_t C,
                             const std::vector<double>& gamma, const std::vector<double>& mean,
                             const std::vector<double>& invstd) {
  BackwardScale s;
  s.dbeta.assign(static_cast<size_t>(C), 0.0);
  s.dgamma = s.dbeta;
  for (int64_t r = 0; r < M; ++r)
    for (int64_t c = 0; c < C; ++c) {
      const auto k = static_cast<size_t>(c);
      s.dbeta[k] += std::fabs(gy[at(r, c, C)]);
      s.dgamma[k] += std::fabs(gy[at(r, c, C)]) * (std::fabs(x[at(r, c, C)]) + std::fabs(mean[k])) * invstd[k];
    }
  s.gx.resize(x.size());
  const double n = static_cast<double>(M);
  for (int64_t r = 0; r < M; ++r)
    for (int64_t c = 0; c < C; ++c) {
      const auto k = static_cast<size_t>(c);
      const double g = gamma.empty() ? 1.0 : gamma[k];
      const double xhat_scale = (std::fabs(x[at(r, c, C)]) + std::fabs(mean[k])) * invstd[k];
      s.gx[at(r, c, C)] =
          std::fabs(g) * invstd[k] * (std::fabs(gy[at(r, c, C)]) + s.dbeta[k] / n + xhat_scale * s.dgamma[k] / n);
    }
  return s;
}

// The running statistics after one update from (rm0, rv0), each within kF32Tol of the magnitude
// of its terms: (1 - momentum) |rm0| + momentum max |x| for the mean; the variance's terms are
// positive, so its own value. M = 1: the op refuses to train on one row (engine/ops/batchnorm.cpp:
// no unbiased variance), the kernels take the biased one, 0, so the running variance only decays.
void check_running_stats(const std::vector<double>& rm, const std::vector<double>& rv, const std::vector<double>& rm0,
                         const std::vector<double>& rv0, const oracle::BatchNormTrain& want,
                         const std::vector<double>& max_abs, int64_t M) {
  std::vector<double> want_rv = want.running_var, scale_rm(rm0.size());
  for (size_t c = 0; c < rm0.size(); ++c) {
    if (M == 1) want_rv[c] = (1.0 - kMomentum) * rv0[c];
    scale_rm[c] = (1.0 - kMomentum) * std::fabs(rm0[c]) + kMomentum * max_abs[c];
  }
  check_within("running_mean", rm, want.running_mean, scale_rm, 0.0, kF32Tol);
  check_within("running_var", rv, want_rv, want_rv, 0.0, kF32Tol);
}

std::vector<double> to_f32(const std::vector<double>& v) { return rounded<float>(v); }

// The array, or null (the launchers' "1 / 0" or "skip").
float* or_null(const DeviceArray<float>& a, bool use) { return use ? a.get() : nullptr; }

struct Case {
  int64_t M, C;
  bool affine = true, running = true;
};

template <typename T>
void check_batchnorm(const Case& cs, uint64_t seed) {
  const int64_t M = cs.M, C = cs.C;
  const bool f32 = std::is_same_v<T, float>;
  CAPTURE(M);
  CAPTURE(C);
  CAPTURE(f32);
  CAPTURE(cs.affine);
  const std::vector<double> x = rounded<T>(batch_values(M, C, seed));
  const std::vector<double> gy = rounded<T>(normal_values(M * C, seed + 3));
  const std::vector<double> gamma = cs.affine ? to_f32(uniform_values(C, seed + 4, -1.5, 1.5)) : std::vector<double>{};
  const std::vector<double> beta = cs.affine ? to_f32(normal_values(C, seed + 5, 0.0, 0.5)) : std::vector<double>{};
  const std::vector<double> rm0 = to_f32(normal_values(C, seed + 6)), rv0 = to_f32(uniform_values(C, seed + 7, 0.5, 2));
  const oracle::BatchNormTrain want = oracle::batch_norm_train(x, M, C, gamma, beta, rm0, rv0, kMomentum, kEps);
  const std::vector<double> max_abs = column_max_abs(x, M, C);

  DeviceArray<T> dx(x), dgy(gy), y(M * C), gx(M * C);
  DeviceArray<float> dgamma_in(gamma), dbeta_in(beta), rm(rm0), rv(rv0);
  DeviceArray<float> save_mean(C), save_invstd(C), dgamma(C), dbeta(C);
  DeviceArray<unsigned char> workspace(static_cast<int64_t>(kernels::batchnorm_workspace_bytes(M, C)));

  // Training forward.
  kernels::batchnorm_forward_train<T>(dx.get(), or_null(dgamma_in, cs.affine), or_null(dbeta_in, cs.affine), y.get(),
                                      save_mean.get(), save_invstd.get(), or_null(rm, cs.running),
                                      or_null(rv, cs.running), M, C, static_cast<float>(kMomentum),
                                      static_cast<float>(kEps), workspace.get(), nullptr);
  check_within("save_mean", save_mean.doubles(), want.mean, max_abs, 0.0, kF32Tol);
  check_within("save_invstd", save_invstd.doubles(), want.invstd, want.invstd, 0.0, kF32Tol);
  check_within("y (train)", y.doubles(), want.y, normalize_scale(x, M, C, gamma, beta, want.mean, want.invstd),
               output_rounding<T>(), kF32Tol);
  if (cs.running) check_running_stats(rm.doubles(), rv.doubles(), rm0, rv0, want, max_abs, M);

  // Eval forward with the (initial) running statistics.
  DeviceArray<float> rm_eval(rm0), rv_eval(rv0);
  DeviceArray<T> y_eval(M * C);
  kernels::batchnorm_forward_eval<T>(dx.get(), or_null(dgamma_in, cs.affine), or_null(dbeta_in, cs.affine),
                                     rm_eval.get(), rv_eval.get(), y_eval.get(), M, C, static_cast<float>(kEps),
                                     nullptr);
  // 1 / sqrt(var + eps) of the running variance, for the bound only.
  std::vector<double> inv_running(rv0.size());
  for (size_t c = 0; c < rv0.size(); ++c) inv_running[c] = 1.0 / std::sqrt(rv0[c] + kEps);
  check_within("y (eval)", y_eval.doubles(), oracle::batch_norm_eval(x, M, C, gamma, beta, rm0, rv0, kEps),
               normalize_scale(x, M, C, gamma, beta, rm0, inv_running), output_rounding<T>(), kF32Tol);

  // Training backward from f32 statistics given to it (the reference uses the same values).
  const std::vector<double> mean_f = to_f32(want.mean), invstd_f = to_f32(want.invstd);
  DeviceArray<float> mean_in(mean_f), invstd_in(invstd_f);
  kernels::batchnorm_backward<T>(dx.get(), dgy.get(), or_null(dgamma_in, cs.affine), mean_in.get(), invstd_in.get(),
                                 gx.get(), dgamma.get(), dbeta.get(), M, C, workspace.get(), nullptr);
  const oracle::BatchNormBackward want_back = oracle::batch_norm_backward(x, gy, M, C, gamma, mean_f, invstd_f);
  const BackwardScale scale = backward_scale(x, gy, M, C, gamma, mean_f, invstd_f);
  check_within("dbeta", dbeta.doubles(), want_back.dbeta, scale.dbeta, 0.0, kF32Tol);
  check_within("dgamma", dgamma.doubles(), want_back.dgamma, scale.dgamma, 0.0, kF32Tol);
  check_within("gx", gx.doubles(), want_back.gx, scale.gx, output_rounding<T>(), kF32Tol);
}

// ---- synchronized batch norm ----

// Rows [first, first + count) of x (M, C).
std::vector<double> rows_of(const std::vector<double>& x, int64_t first, int64_t count, int64_t C) {
  return std::vector<double>(x.begin() + first * C, x.begin() + (first + count) * C);
}

// Adds the ranks' device vectors on the host: the all-reduce (sum) of the caller.
std::vector<double> all_reduce(const std::vector<std::vector<double>>& parts) {
  std::vector<double> out(parts.front().size(), 0.0);
  for (const auto& p : parts)
    for (size_t i = 0; i < p.size(); ++i) out[i] += p[i];
  return out;
}

template <typename T>
void check_sync_batchnorm(const std::vector<int64_t>& rank_rows, int64_t C, bool affine, uint64_t seed) {
  const int64_t M = std::accumulate(rank_rows.begin(), rank_rows.end(), int64_t{0});
  const bool f32 = std::is_same_v<T, float>;
  const int ranks = static_cast<int>(rank_rows.size());
  CAPTURE(M);
  CAPTURE(C);
  CAPTURE(ranks);
  CAPTURE(f32);
  const std::vector<double> x = rounded<T>(batch_values(M, C, seed));
  const std::vector<double> gy = rounded<T>(normal_values(M * C, seed + 3));
  const std::vector<double> gamma = affine ? to_f32(uniform_values(C, seed + 4, -1.5, 1.5)) : std::vector<double>{};
  const std::vector<double> beta = affine ? to_f32(normal_values(C, seed + 5, 0.0, 0.5)) : std::vector<double>{};
  const std::vector<double> rm0 = to_f32(normal_values(C, seed + 6)), rv0 = to_f32(uniform_values(C, seed + 7, 0.5, 2));
  const oracle::BatchNormTrain want = oracle::batch_norm_train(x, M, C, gamma, beta, rm0, rv0, kMomentum, kEps);
  const std::vector<double> max_abs = column_max_abs(x, M, C);
  DeviceArray<float> dgamma_in(gamma), dbeta_in(beta);

  struct Rank {
    int64_t first, rows;
    std::vector<double> x, gy;
  };
  std::vector<Rank> rk;
  for (int64_t first = 0, i = 0; i < ranks; first += rank_rows[static_cast<size_t>(i)], ++i) {
    const int64_t rows = rank_rows[static_cast<size_t>(i)];
    rk.push_back({first, rows, rows_of(x, first, rows, C), rows_of(gy, first, rows, C)});
  }
  const auto workspace_for = [&](const Rank& r) {
    return static_cast<int64_t>(kernels::sync_batchnorm_workspace_bytes(r.rows, C));
  };

  // Each rank's moments [mean, m2, rows], gathered rank-major as the all-gather does, merged.
  std::vector<double> gathered;
  for (const Rank& r : rk) {
    DeviceArray<T> dx(r.x);
    DeviceArray<double> local(2 * C + 1);
    DeviceArray<unsigned char> workspace(workspace_for(r));
    kernels::sync_batchnorm_local_moments<T>(dx.get(), r.rows, C, local.get(), workspace.get(), nullptr);
    const std::vector<double> m = local.doubles();
    CHECK(m[static_cast<size_t>(2 * C)] == static_cast<double>(r.rows));
    if (r.rows == 0) check_exact("moments of no rows", m, std::vector<double>(m.size(), 0.0));
    gathered.insert(gathered.end(), m.begin(), m.end());
  }
  DeviceArray<double> dgathered(gathered), dmoments(2 * C + 1);
  kernels::sync_batchnorm_merge_moments(dgathered.get(), ranks, C, dmoments.get(), nullptr);
  const std::vector<double> moments = dmoments.doubles();
  CHECK(moments[static_cast<size_t>(2 * C)] == static_cast<double>(M));
  check_within("merged mean", std::vector<double>(moments.begin(), moments.begin() + C), want.mean, max_abs, 0.0,
               kF32Tol);
  std::vector<double> m2_scale(static_cast<size_t>(C), 0.0);
  for (int64_t c = 0; c < C; ++c) {
    const auto k = static_cast<size_t>(c);
    // Each term (x - mean)^2 is computed from x and a mean: accurate relative to (|x| + |mean|) |x - mean|.
    for (int64_t i = 0; i < M; ++i)
      m2_scale[k] += (std::fabs(x[at(i, c, C)]) + std::fabs(want.mean[k])) * std::fabs(x[at(i, c, C)] - want.mean[k]);
  }
  check_within("merged m2", std::vector<double>(moments.begin() + C, moments.begin() + 2 * C), want.m2, m2_scale,
               0.0, kF32Tol);

  // Finalize (the same on every rank).
  DeviceArray<float> save_mean(C), save_invstd(C), rm(rm0), rv(rv0);
  kernels::sync_batchnorm_finalize(dmoments.get(), C, static_cast<float>(kMomentum), static_cast<float>(kEps),
                                   save_mean.get(), save_invstd.get(), rm.get(), rv.get(), nullptr);
  check_within("save_mean", save_mean.doubles(), want.mean, max_abs, 0.0, kF32Tol);
  check_within("save_invstd", save_invstd.doubles(), want.invstd, want.invstd, 0.0, kF32Tol);
  check_running_stats(rm.doubles(), rv.doubles(), rm0, rv0, want, max_abs, M);

  // Apply, backward reduce and backward apply per rank, with the statistics the finalize gave.
  const std::vector<double> mean_f = save_mean.doubles(), invstd_f = save_invstd.doubles();
  const oracle::BatchNormBackward want_back = oracle::batch_norm_backward(x, gy, M, C, gamma, mean_f, invstd_f);
  const BackwardScale scale = backward_scale(x, gy, M, C, gamma, mean_f, invstd_f);
  std::vector<double> y_all, gx_all;
  std::vector<std::vector<double>> parts;
  for (const Rank& r : rk) {
    CAPTURE(r.first);
    DeviceArray<T> dx(r.x), dgy(r.gy), y(r.rows * C);
    kernels::sync_batchnorm_apply<T>(dx.get(), or_null(dgamma_in, affine), or_null(dbeta_in, affine), save_mean.get(),
                                     save_invstd.get(), y.get(), r.rows, C, nullptr);
    const std::vector<double> yr = y.doubles();
    y_all.insert(y_all.end(), yr.begin(), yr.end());

    DeviceArray<double> sums(2 * C);
    DeviceArray<float> dgamma(C), dbeta(C);
    DeviceArray<unsigned char> workspace(workspace_for(r));
    kernels::sync_batchnorm_backward_reduce<T>(dx.get(), dgy.get(), save_mean.get(), save_invstd.get(), r.rows, C,
                                               sums.get(), dgamma.get(), dbeta.get(), workspace.get(), nullptr);
    parts.push_back(sums.doubles());
    // dgamma, dbeta: this rank's own sums in f32.
    const oracle::BatchNormBackward local = oracle::batch_norm_backward(r.x, r.gy, r.rows, C, gamma, mean_f, invstd_f);
    const BackwardScale local_scale = backward_scale(r.x, r.gy, r.rows, C, gamma, mean_f, invstd_f);
    check_within("local dbeta", dbeta.doubles(), local.dbeta, local_scale.dbeta, 0.0, kF32Tol);
    check_within("local dgamma", dgamma.doubles(), local.dgamma, local_scale.dgamma, 0.0, kF32Tol);
  }
  check_within("y", y_all, oracle::batch_norm_apply(x, M, C, gamma, beta, mean_f, invstd_f),
               normalize_scale(x, M, C, gamma, beta, mean_f, invstd_f), output_rounding<T>(), kF32Tol);
  const std::vector<double> grad_sums = all_reduce(parts);
  std::vector<double> want_grad_sums(want_back.dbeta), grad_sums_scale(scale.dbeta);
  want_grad_sums.insert(want_grad_sums.end(), want_back.dgamma.begin(), want_back.dgamma.end());
  grad_sums_scale.insert(grad_sums_scale.end(), scale.dgamma.begin(), scale.dgamma.end());
  check_within("all-reduced gradient sums", grad_sums, want_grad_sums, grad_sums_scale, 0.0, kF32Tol);
  for (const Rank& r : rk) {
    DeviceArray<T> dx(r.x), dgy(r.gy), gx(r.rows * C);
    DeviceArray<double> dsums(grad_sums);
    kernels::sync_batchnorm_backward_apply<T>(dx.get(), dgy.get(), or_null(dgamma_in, affine), save_mean.get(),
                                              save_invstd.get(), dsums.get(), dmoments.get(), gx.get(), r.rows, C,
                                              nullptr);
    const std::vector<double> g = gx.doubles();
    gx_all.insert(gx_all.end(), g.begin(), g.end());
  }
  check_within("gx", gx_all, want_back.gx, scale.gx, output_rounding<T>(), kF32Tol);
}

}  // namespace

TEST_SUITE("emulated") {
  TEST_CASE("batchnorm kernels on the emulator: train and eval forward, backward (f32, bf16) match float64") {
    const Case cases[] = {{1, 3},     {7, 45, false, true}, {1000, 45},   {200, 130, true, false},
                          {64, 32},   {131, 21857},         {2100, 7},    {6437, 45}};
    uint64_t seed = 1000;
    for (const Case& c : cases) {
      check_batchnorm<float>(c, seed);
      check_batchnorm<__nv_bfloat16>(c, seed);
      seed += 10;
    }
    // 8193 column tiles: the elementwise passes get one row block, whose loop runs twice for 65
    // rows (17 million elements: f32 only, the loop does not depend on T).
    check_batchnorm<float>({65, 262176}, seed);
  }

  TEST_CASE("sync_batchnorm kernels on the emulator: ranks of a batch (f32, bf16) give its float64 batch norm") {
    struct SyncCase {
      std::vector<int64_t> rows;
      int64_t C;
      bool affine;
    };
    const SyncCase cases[] = {{{300, 0, 77}, 45, true},
                              {{0, 1}, 5, true},
                              {{1, 2}, 3, false},
                              {{65, 64, 200}, 130, true},
                              {{131}, 21857, true},
                              {{3000, 0, 3437}, 45, true}};
    uint64_t seed = 2000;
    for (const SyncCase& c : cases) {
      check_sync_batchnorm<float>(c.rows, c.C, c.affine, seed);
      check_sync_batchnorm<__nv_bfloat16>(c.rows, c.C, c.affine, seed);
      seed += 10;
    }
    // The elementwise passes' row loop twice, as in the batchnorm case above.
    check_sync_batchnorm<float>({65, 0}, 262176, true, seed);
  }

  TEST_CASE("batchnorm kernels on the emulator: results do not depend on thread order") {
    const int64_t M = 2200, C = 45;  // 35 slabs: the finalize's 32 lanes and its tree
    const std::vector<double> x = rounded<float>(batch_values(M, C, 2900)),
                              gy = rounded<float>(normal_values(M * C, 2901));
    check_order_independent("batchnorm train forward, backward", [&] {
      DeviceArray<float> dx(x), dgy(gy), y(M * C), gx(M * C), mean(C), invstd(C), dgamma(C), dbeta(C);
      DeviceArray<unsigned char> workspace(static_cast<int64_t>(kernels::batchnorm_workspace_bytes(M, C)));
      kernels::batchnorm_forward_train<float>(dx.get(), nullptr, nullptr, y.get(), mean.get(), invstd.get(), nullptr,
                                              nullptr, M, C, 0.1f, 1e-5f, workspace.get(), nullptr);
      kernels::batchnorm_backward<float>(dx.get(), dgy.get(), nullptr, mean.get(), invstd.get(), gx.get(), dgamma.get(),
                                         dbeta.get(), M, C, workspace.get(), nullptr);
      std::vector<double> out;
      for (const DeviceArray<float>* a : {&y, &mean, &invstd, &gx, &dgamma, &dbeta}) {
        const std::vector<double> v = a->doubles();
        out.insert(out.end(), v.begin(), v.end());
      }
      return out;
    });
  }

  TEST_CASE("sync_batchnorm kernels on the emulator: results do not depend on thread order") {
    const int64_t M = 2200, C = 45;  // 35 slabs
    const std::vector<double> x = rounded<float>(batch_values(M, C, 2950)),
                              gy = rounded<float>(normal_values(M * C, 2951));
    check_order_independent("sync_batchnorm reductions", [&] {
      DeviceArray<float> dx(x), dgy(gy), mean(C), invstd(C), dgamma(C), dbeta(C);
      DeviceArray<double> moments(2 * C + 1), sums(2 * C);
      DeviceArray<unsigned char> workspace(static_cast<int64_t>(kernels::sync_batchnorm_workspace_bytes(M, C)));
      kernels::sync_batchnorm_local_moments<float>(dx.get(), M, C, moments.get(), workspace.get(), nullptr);
      kernels::sync_batchnorm_finalize(moments.get(), C, 0.1f, 1e-5f, mean.get(), invstd.get(), nullptr, nullptr,
                                       nullptr);
      kernels::sync_batchnorm_backward_reduce<float>(dx.get(), dgy.get(), mean.get(), invstd.get(), M, C, sums.get(),
                                                     dgamma.get(), dbeta.get(), workspace.get(), nullptr);
      std::vector<double> out = moments.doubles();
      for (const std::vector<double>& v : {sums.doubles(), dgamma.doubles(), dbeta.doubles()})
        out.insert(out.end(), v.begin(), v.end());
      return out;
    });
  }
}
