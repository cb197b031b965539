#include "models/downstream/lbfgs.h"

#include <algorithm>
#include <cmath>
#include <deque>

#include "engine/error.h"

namespace rsd::downstream {

namespace {

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

struct CurvaturePair {
  std::vector<double> s, y;  // x_{k+1} - x_k, g_{k+1} - g_k
  double rho = 0;            // 1 / <y, s>
};

// d = -H g by the two-loop recursion, H the L-BFGS inverse-Hessian estimate.
std::vector<double> search_direction(const std::deque<CurvaturePair>& pairs, const std::vector<double>& g) {
  std::vector<double> q = g;
  std::vector<double> alpha(pairs.size());
  for (size_t k = pairs.size(); k-- > 0;) {
    alpha[k] = pairs[k].rho * dot(pairs[k].s, q);
    for (size_t i = 0; i < q.size(); ++i) q[i] -= alpha[k] * pairs[k].y[i];
  }
  if (!pairs.empty()) {  // initial scaling gamma = <s, y> / <y, y> of the newest pair
    const CurvaturePair& last = pairs.back();
    const double gamma = 1.0 / (last.rho * dot(last.y, last.y));
    for (double& v : q) v *= gamma;
  }
  for (size_t k = 0; k < pairs.size(); ++k) {
    const double beta = pairs[k].rho * dot(pairs[k].y, q);
    for (size_t i = 0; i < q.size(); ++i) q[i] += (alpha[k] - beta) * pairs[k].s[i];
  }
  for (double& v : q) v = -v;
  return q;
}

}  // namespace

LbfgsResult minimize_lbfgs(const Objective& objective, std::vector<double>& x, const LbfgsOptions& options) {
  RSD_CHECK(options.max_iterations > 0 && options.memory > 0, "L-BFGS: max_iterations and memory must be positive");
  LbfgsResult r;
  std::vector<double> g(x.size()), x_next(x.size()), g_next(x.size());
  double f = objective(x, g);
  ++r.evaluations;
  RSD_CHECK(std::isfinite(f), "L-BFGS: the objective is not finite at the start (", f, ")");
  std::deque<CurvaturePair> pairs;
  for (r.iterations = 0; r.iterations < options.max_iterations; ++r.iterations) {
    if (max_abs(g) <= options.gradient_tolerance * std::max(1.0, std::abs(f))) {
      r.converged = true;
      break;
    }
    std::vector<double> d = search_direction(pairs, g);
    double slope = dot(g, d);
    if (!(slope < 0)) {  // not a descent direction (numerical trouble): restart from -g
      pairs.clear();
      d = g;
      for (double& v : d) v = -v;
      slope = -dot(g, g);
    }
    // The first step of steepest descent has no scale yet: make it of length 1.
    double step = pairs.empty() ? std::min(1.0, 1.0 / std::sqrt(-slope)) : 1.0;
    double f_next = f;
    bool accepted = false;
    for (int tries = 0; tries < 40; ++tries) {
      for (size_t i = 0; i < x.size(); ++i) x_next[i] = x[i] + step * d[i];
      f_next = objective(x_next, g_next);
      ++r.evaluations;
      if (std::isfinite(f_next) && f_next <= f + 1e-4 * step * slope) {
        accepted = true;
        break;
      }
      step *= 0.5;
    }
    if (!accepted) break;  // no decrease along a descent direction: f is at its floating-point floor
    CurvaturePair p;
    p.s.resize(x.size());
    p.y.resize(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      p.s[i] = x_next[i] - x[i];
      p.y[i] = g_next[i] - g[i];
    }
    const double ys = dot(p.y, p.s);
    if (ys > 1e-16 * dot(p.y, p.y)) {
      p.rho = 1.0 / ys;
      pairs.push_back(std::move(p));
      if (static_cast<int>(pairs.size()) > options.memory) pairs.pop_front();
    }
    const double improvement = f - f_next;
    x.swap(x_next);
    g.swap(g_next);
    f = f_next;
    if (improvement <= options.value_tolerance * std::max(1.0, std::abs(f))) {
      r.converged = true;
      ++r.iterations;
      break;
    }
  }
  r.value = f;
  r.gradient_max = max_abs(g);
  return r;
}

}  // namespace rsd::downstream
