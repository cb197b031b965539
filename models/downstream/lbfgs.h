// L-BFGS (limited-memory BFGS) for smooth convex problems of a few thousand variables: the
// logistic-regression heads of the linear probes. Two-loop recursion over the last `memory`
// (step, gradient change) pairs, a backtracking line search with the Armijo condition, steepest
// descent again whenever the curvature pair is not positive. Deterministic: a pure function of
// the objective and the start.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

namespace rsd::downstream {

struct LbfgsOptions {
  int64_t max_iterations = 500;
  int memory = 10;
  double gradient_tolerance = 1e-6;  // stop when max |g_i| <= this x max(1, |f|)
  double value_tolerance = 1e-12;    // or when f improves by less than this x max(1, |f|)
};

struct LbfgsResult {
  double value = 0;
  double gradient_max = 0;
  int64_t iterations = 0;
  int64_t evaluations = 0;
  bool converged = false;
};

// objective(x, g) returns f(x) and writes its gradient into g (sized like x). x is the start and
// receives the minimizer.
using Objective = std::function<double(const std::vector<double>& x, std::vector<double>& g)>;
LbfgsResult minimize_lbfgs(const Objective& objective, std::vector<double>& x, const LbfgsOptions& options = {});

}  // namespace rsd::downstream
