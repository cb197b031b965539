// pca_bench: the eigensolver of `rsd embed --dense`'s PCA (models/downstream/pca_eigen.h: LAPACK's
// dsyevr) on a covariance shaped like embeddings': the covariance of 2 D rows of D features (default
// 2048) mixed from independent sources, source j with standard deviation 1 / (1 + j / decay)
// (--decay 0: all equal, the flat spectrum that iterative solvers find hardest), then its top k
// (default 64) eigenpairs. Prints the median wall time of --runs runs after one warm-up, the worst relative
// residual |A v - lambda v| / lambda_1 and the BLAS threads; writes JSON.
//   pca_bench --dim 2048 --k 64 --runs 5 --json pca.json
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "benchmarks/bench_util.h"
#include "engine/atomic_file.h"
#include "engine/cpu/gemm.h"
#include "models/downstream/pca.h"
#include "models/downstream/pca_eigen.h"
#include "engine/shutdown.h"

using namespace rsd;

namespace {

// The covariance of 2 D rows x = (g * s) M: g standard normal, s_j = 1 / (1 + j / decay) (1 when
// decay is 0), M a Gaussian mixing matrix scaled by 1 / sqrt(D).
std::vector<double> embedding_like_covariance(int64_t d, double decay, uint64_t seed) {
  const int64_t rows = 2 * d;
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> normal;
  std::vector<double> sources(static_cast<size_t>(rows * d)), mixing(static_cast<size_t>(d * d));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < d; ++j)
      sources[static_cast<size_t>(r * d + j)] = normal(gen) / (decay > 0 ? 1.0 + static_cast<double>(j) / decay : 1.0);
  for (double& m : mixing) m = normal(gen) / std::sqrt(static_cast<double>(d));
  std::vector<double> x(sources.size());
  cpu::gemm<double>(false, false, rows, d, d, 1.0, sources.data(), d, mixing.data(), d, 0.0, x.data(), d);
  const std::vector<float> rows_f(x.begin(), x.end());
  downstream::CovarianceSum sum(d);
  sum.add(rows_f.data(), rows);
  return sum.covariance();
}

double worst_residual(const downstream::SymmetricEigen& e, const std::vector<double>& a, int64_t d) {
  std::vector<double> av(static_cast<size_t>(e.count() * d));
  cpu::gemm<double>(false, true, e.count(), d, d, 1.0, e.vectors.data(), d, a.data(), d, 0.0, av.data(), d);
  double worst = 0;
  for (int64_t i = 0; i < e.count(); ++i) {
    double s = 0;
    for (int64_t t = 0; t < d; ++t) {
      const double r = av[static_cast<size_t>(i * d + t)] -
                       e.values[static_cast<size_t>(i)] * e.vectors[static_cast<size_t>(i * d + t)];
      s += r * r;
    }
    worst = std::max(worst, std::sqrt(s));
  }
  return worst / std::fabs(e.values[0]);
}

}  // namespace

int main(int argc, char** argv) {
  rsd::ShutdownAtExit shutdown_at_exit;  // ends the device state before static destruction (engine/shutdown.h)
  CLI::App app{"pca_bench: the top-k eigenpairs of rsd's PCA (LAPACK dsyevr)"};
  int64_t dim = 2048, k = 64;
  int runs = 5;
  double decay = 16;
  uint64_t seed = 1;
  std::string json_path = "pca_bench.json";
  app.add_option("--dim", dim, "D, the features")->check(CLI::Range(int64_t{2}, int64_t{16384}))->capture_default_str();
  app.add_option("--k", k, "Eigenpairs")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--runs", runs, "Timed runs (after one warm-up)")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--decay", decay, "Source j's standard deviation is 1 / (1 + j / decay); 0: all 1")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--seed", seed, "Seed of the matrix")->capture_default_str();
  app.add_option("--json", json_path, "Write the results here")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  k = std::min(k, dim);

  const char* env_threads = std::getenv("OPENBLAS_NUM_THREADS");
  const std::string threads =
      env_threads != nullptr ? std::string("OPENBLAS_NUM_THREADS=") + env_threads
                             : "OpenBLAS default (" + std::to_string(std::thread::hardware_concurrency()) + " cores)";
  std::printf("pca_bench: D = %lld, top %lld, decay %g, %s, BLAS threads: %s\n", static_cast<long long>(dim),
              static_cast<long long>(k), decay, bench::device_name(Device::cpu()).c_str(), threads.c_str());
  const std::vector<double> a = embedding_like_covariance(dim, decay, seed);
  downstream::SymmetricEigen e;
  const bench::Timing t = bench::time_runs(
      Device::cpu(), [&] { e = downstream::top_eigenpairs(a, dim, k); }, 1, runs);
  const double residual = worst_residual(e, a, dim);
  std::printf("dsyevr: median %.1f ms (min %.1f, %d runs); lambda_1 %.4g, lambda_k %.4g; worst |Av - lv| / l_1 %.2e\n",
              t.median_ms, t.min_ms, t.runs, e.values.front(), e.values.back(), residual);
  nlohmann::json out = {{"benchmark", "pca_bench"},
                        {"device", bench::device_name(Device::cpu())},
                        {"blas_threads", threads},
                        {"dim", dim},
                        {"k", k},
                        {"decay", decay},
                        {"solver", "dsyevr"},
                        {"median_ms", t.median_ms},
                        {"min_ms", t.min_ms},
                        {"runs", t.runs},
                        {"worst_relative_residual", residual}};
  write_file_atomically(json_path, out.dump(2) + "\n");
  std::printf("wrote %s\n", json_path.c_str());
  return 0;
}
