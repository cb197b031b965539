// The engine's CPU reference on host doubles for the emulated-kernel tests (cpu_oracle.h): each
// function moves its inputs into f64 CPU tensors (f32 for the optimizers, which update f32 master
// weights), calls the reference, and reads the outputs back.
#include "tests/emulation/cpu_oracle.h"

#include <string>

#include "engine/ops/batchnorm_kernels.h"
#include "engine/ops/cosine_loss_kernels.h"
#include "engine/ops/cross_entropy_kernels.h"
#include "engine/ops/elementwise_kernels.h"
#include "engine/ops/info_nce.h"
#include "engine/ops/l2norm_kernels.h"
#include "engine/ops/linear_kernels.h"
#include "engine/ops/pool_kernels.h"
#include "engine/ops/reduce_kernels.h"
#include "engine/optim/adamw.h"
#include "engine/optim/ema.h"
#include "engine/optim/grad_norm.h"
#include "engine/optim/lars.h"
#include "engine/optim/sgd.h"
#include "engine/params.h"
#include "engine/tensor.h"

namespace rsd::test::oracle {

namespace {

Tensor f64(const std::vector<double>& v, const Shape& shape) { return Tensor::from_vector(v, shape, DType::f64); }
Tensor f64_out(const Shape& shape) { return Tensor::empty(shape, DType::f64); }
int64_t count(const std::vector<double>& v) { return static_cast<int64_t>(v.size()); }

// y = kernel(inputs...) for an element-wise kernel (kernel(x..., y)) over vectors of one length.
template <typename Kernel, typename... Inputs>
std::vector<double> map(Kernel kernel, const std::vector<double>& first, const Inputs&... rest) {
  const Shape shape{count(first)};
  Tensor y = f64_out(shape);
  kernel(f64(first, shape), f64(rest, shape)..., y);
  return y.to_host_doubles();
}

// gamma (C), or ones where the kernels take a null gamma; beta: zeros.
Tensor gamma_or_ones(const std::vector<double>& gamma, int64_t C) {
  return gamma.empty() ? Tensor::full({C}, 1.0, DType::f64) : f64(gamma, {C});
}
Tensor beta_or_zeros(const std::vector<double>& beta, int64_t C) {
  return beta.empty() ? Tensor::zeros({C}, DType::f64) : f64(beta, {C});
}

}  // namespace

BatchNormTrain batch_norm_train(const std::vector<double>& x, int64_t M, int64_t C, const std::vector<double>& gamma,
                                const std::vector<double>& beta, const std::vector<double>& running_mean,
                                const std::vector<double>& running_var, double momentum, double eps) {
  const Tensor tx = f64(x, {M, C});
  Tensor moments = f64_out({2 * C + 1}), y = f64_out({M, C}), mean = f64_out({C}), invstd = f64_out({C});
  Tensor rm = f64(running_mean, {C}), rv = f64(running_var, {C});
  cpu::batch_norm_local_moments(tx, moments);
  cpu::batch_norm_normalize_train(tx, gamma_or_ones(gamma, C), beta_or_zeros(beta, C), moments, momentum, eps, y,
                                  mean, invstd, rm, rv);
  const std::vector<double> all = moments.to_host_doubles();
  const std::vector<double> m2(all.begin() + C, all.begin() + 2 * C);
  return {m2, mean.to_host_doubles(), invstd.to_host_doubles(), y.to_host_doubles(), rm.to_host_doubles(),
          rv.to_host_doubles()};
}

std::vector<double> batch_norm_eval(const std::vector<double>& x, int64_t M, int64_t C,
                                    const std::vector<double>& gamma, const std::vector<double>& beta,
                                    const std::vector<double>& mean, const std::vector<double>& var, double eps) {
  Tensor y = f64_out({M, C});
  cpu::batch_norm_forward_eval(f64(x, {M, C}), gamma_or_ones(gamma, C), beta_or_zeros(beta, C), f64(mean, {C}),
                               f64(var, {C}), y, eps);
  return y.to_host_doubles();
}

std::vector<double> batch_norm_apply(const std::vector<double>& x, int64_t M, int64_t C,
                                     const std::vector<double>& gamma, const std::vector<double>& beta,
                                     const std::vector<double>& mean, const std::vector<double>& invstd) {
  // The eval forward with the variance whose 1 / sqrt(var + eps) is invstd: it gives invstd back
  // to within a few 1e-16 relative.
  const double eps = 1e-5;
  std::vector<double> var(invstd.size());
  for (size_t c = 0; c < var.size(); ++c) var[c] = 1.0 / (invstd[c] * invstd[c]) - eps;
  return batch_norm_eval(x, M, C, gamma, beta, mean, var, eps);
}

BatchNormBackward batch_norm_backward(const std::vector<double>& x, const std::vector<double>& gy, int64_t M,
                                      int64_t C, const std::vector<double>& gamma, const std::vector<double>& mean,
                                      const std::vector<double>& invstd) {
  const Tensor tx = f64(x, {M, C}), tgy = f64(gy, {M, C}), tmean = f64(mean, {C}), tinvstd = f64(invstd, {C});
  Tensor sums = f64_out({2 * C}), dgamma = f64_out({C}), dbeta = f64_out({C}), gx = f64_out({M, C});
  cpu::batch_norm_backward_reduce(tx, tgy, tmean, tinvstd, sums, dgamma, dbeta);
  // The apply step reads only the count of the moments (2C + 1): the batch is these M rows.
  Tensor moments = Tensor::zeros({2 * C + 1}, DType::f64);
  moments.data<double>()[2 * C] = static_cast<double>(M);
  cpu::batch_norm_backward_apply(tx, tgy, gamma_or_ones(gamma, C), tmean, tinvstd, sums, moments, gx);
  return {dbeta.to_host_doubles(), dgamma.to_host_doubles(), gx.to_host_doubles()};
}

L2Normalize l2_normalize_forward(const std::vector<double>& x, int64_t R, int64_t D, double eps) {
  Tensor y = f64_out({R, D}), norms = f64_out({R});
  cpu::l2_normalize_forward(f64(x, {R, D}), y, norms, eps);
  return {y.to_host_doubles(), norms.to_host_doubles()};
}

std::vector<double> l2_normalize_backward(const std::vector<double>& gy, const std::vector<double>& y,
                                          const std::vector<double>& norms, int64_t R, int64_t D, double eps) {
  Tensor gx = f64_out({R, D});
  cpu::l2_normalize_backward(f64(gy, {R, D}), f64(y, {R, D}), f64(norms, {R}), gx, eps);
  return gx.to_host_doubles();
}

MaxPool max_pool2d_forward(const std::vector<double>& x, int64_t N, int64_t H, int64_t W, int64_t C, int kernel,
                           int stride, int padding, int64_t P, int64_t Q) {
  Tensor y = f64_out({N, P, Q, C}), argmax = Tensor::empty({N, P, Q, C}, DType::i32);
  cpu::max_pool2d_forward(f64(x, {N, H, W, C}), y, argmax, kernel, stride, padding);
  return {y.to_host_doubles(), argmax.to_host_doubles()};
}

std::vector<double> max_pool2d_backward(const std::vector<double>& gy, const std::vector<double>& argmax, int64_t N,
                                        int64_t H, int64_t W, int64_t C, int64_t P, int64_t Q) {
  Tensor gx = f64_out({N, H, W, C});
  // The window's geometry is not read (engine/ops/pool_kernels.h): 0 for each.
  cpu::max_pool2d_backward(f64(gy, {N, P, Q, C}), Tensor::from_vector(argmax, {N, P, Q, C}, DType::i32), gx, 0, 0, 0);
  return gx.to_host_doubles();
}

std::vector<double> global_avg_pool_forward(const std::vector<double>& x, int64_t N, int64_t HW, int64_t C) {
  Tensor y = f64_out({N, C});
  cpu::global_avg_pool_forward(f64(x, {N, HW, 1, C}), y);
  return y.to_host_doubles();
}

std::vector<double> global_avg_pool_backward(const std::vector<double>& gy, int64_t N, int64_t HW, int64_t C) {
  Tensor gx = f64_out({N, HW, 1, C});
  cpu::global_avg_pool_backward(f64(gy, {N, C}), gx);
  return gx.to_host_doubles();
}

SoftmaxCrossEntropy softmax_cross_entropy_forward(const std::vector<double>& logits,
                                                  const std::vector<int32_t>& labels, int64_t N, int64_t K) {
  Tensor row_lse = f64_out({N}), loss = f64_out({1});
  cpu::softmax_cross_entropy_forward(f64(logits, {N, K}), Tensor::from_ints(labels, {N}), row_lse, loss);
  return {row_lse.to_host_doubles(), loss.item()};
}

std::vector<double> softmax_cross_entropy_backward(const std::vector<double>& logits,
                                                   const std::vector<int32_t>& labels,
                                                   const std::vector<double>& row_lse, double gloss, int64_t N,
                                                   int64_t K) {
  Tensor glogits = f64_out({N, K});
  cpu::softmax_cross_entropy_backward(f64(logits, {N, K}), Tensor::from_ints(labels, {N}), f64(row_lse, {N}),
                                      f64({gloss}, {1}), glogits);
  return glogits.to_host_doubles();
}

double scaled_sum(const std::vector<double>& x, double scale) {
  Tensor y = f64_out({1});
  cpu::scaled_sum(f64(x, {count(x)}), y, scale);
  return y.item();
}

std::vector<double> column_sums(const std::vector<double>& x, int64_t rows, int64_t cols) {
  Tensor sums = f64_out({cols});
  cpu::linear_backward_bias(f64(x, {rows, cols}), sums);
  return sums.to_host_doubles();
}

std::vector<double> relu(const std::vector<double>& x) { return map(cpu::relu_forward, x); }
std::vector<double> relu_backward(const std::vector<double>& y, const std::vector<double>& gy) {
  return map(cpu::relu_backward, y, gy);
}
std::vector<double> gelu(const std::vector<double>& x) { return map(cpu::gelu_forward, x); }
std::vector<double> gelu_backward(const std::vector<double>& x, const std::vector<double>& gy) {
  return map(cpu::gelu_backward, x, gy);
}
std::vector<double> exp(const std::vector<double>& x) { return map(cpu::exp_forward, x); }
std::vector<double> exp_backward(const std::vector<double>& y, const std::vector<double>& gy) {
  return map(cpu::exp_backward, y, gy);
}
std::vector<double> scale(const std::vector<double>& x, double s) {
  return map([s](const Tensor& t, Tensor& y) { cpu::scale(t, s, y); }, x);
}
std::vector<double> add(const std::vector<double>& a, const std::vector<double>& b) { return map(cpu::add, a, b); }

std::vector<double> broadcast_scalar(double g, double scale, int64_t n) {
  Tensor gx = f64_out({n});
  cpu::broadcast_scalar(f64({g}, {1}), gx, scale);
  return gx.to_host_doubles();
}

InfoNce info_nce(const std::vector<double>& a, const std::vector<double>& b, int64_t n, int64_t m, int64_t d,
                 double tau, int64_t offset, bool symmetric, double eps, double g) {
  InfoNceOptions opt;
  opt.symmetric = symmetric;
  opt.eps = eps;
  const InfoNceContext ctx = info_nce_forward(f64(a, {n, d}), f64(b, {m, d}), f64({tau}, {1}), offset, opt);
  const InfoNceGrads grads = info_nce_backward(ctx, f64({g}, {1}));
  return {ctx.loss.item(), grads.dtau.item(), grads.da.to_host_doubles(), grads.db.to_host_doubles()};
}

CosineLoss byol_cosine_loss(const std::vector<double>& p, const std::vector<double>& z, int64_t B, int64_t D,
                            double eps, double g) {
  Tensor loss = f64_out({1}), dp = f64_out({B, D});
  const Tensor upstream = f64({g}, {1});
  cpu::byol_cosine_loss(f64(p, {B, D}), f64(z, {B, D}), &loss, &dp, &upstream, eps, Variant::fused);
  return {loss.item(), dp.to_host_doubles()};
}

namespace {

// The set's tensors as the parameters of a registry (values p, gradient buffers g), whose
// optimizer's states are loaded from state0 / state1 and read back after a step.
struct Registered {
  ParameterRegistry registry;

  explicit Registered(const ParamSet& s) {
    for (size_t k = 0; k < s.p.size(); ++k) {
      const Shape shape{static_cast<int64_t>(s.p[k].size())};
      registry.add(name(k), Tensor::from_vector(s.p[k], shape, DType::f32), s.excluded[k]);
      registry.find(name(k))->value.grad().copy_from(Tensor::from_vector(s.g[k], shape, DType::f32));
    }
  }

  static std::string name(size_t k) { return "t" + std::to_string(k); }

  // The state called "<tensor>.<state_name>" (optimizer.h) of each tensor from / into `values`.
  static void load(const Optimizer& opt, const char* state_name, const std::vector<std::vector<double>>& values) {
    for (size_t k = 0; k < values.size(); ++k) state(opt, k, state_name).copy_from(from(values[k]));
  }
  static void store(const Optimizer& opt, const char* state_name, std::vector<std::vector<double>>& values) {
    for (size_t k = 0; k < values.size(); ++k) values[k] = state(opt, k, state_name).to_host_doubles();
  }
  void store_values(ParamSet& s) {
    for (size_t k = 0; k < s.p.size(); ++k) s.p[k] = registry.find(name(k))->value.to_host_doubles();
  }

 private:
  static Tensor from(const std::vector<double>& v) {
    return Tensor::from_vector(v, {static_cast<int64_t>(v.size())}, DType::f32);
  }
  static Tensor state(const Optimizer& opt, size_t k, const char* state_name) {
    const std::string wanted = name(k) + "." + state_name;
    for (const auto& [n, t] : opt.state())
      if (n == wanted) return t;
    fail("oracle: the optimizer has no state ", wanted);
  }
};

// GradientNorm reads and scales gradient buffers: the set's values p become the gradients.
ParamSet values_as_gradients(const ParamSet& s) {
  ParamSet g;
  g.g = s.p;
  g.excluded = s.excluded;
  for (const std::vector<double>& v : s.p) g.p.emplace_back(v.size(), 0.0);
  return g;
}

}  // namespace

namespace {

// One step of SGD or LARS on s, the momentum buffer (state0) carried in and out when used.
template <typename Optimizer, typename Options>
void momentum_step(ParamSet& s, const Options& options, double lr) {
  Registered r(s);
  Optimizer opt(r.registry.parameters(), options);
  if (options.momentum > 0.0) Registered::load(opt, "momentum", s.state0);
  opt.step(lr);
  r.store_values(s);
  if (options.momentum > 0.0) Registered::store(opt, "momentum", s.state0);
}

}  // namespace

void sgd_step(ParamSet& s, double lr, double momentum, double weight_decay, bool nesterov) {
  SgdOptions options;
  options.momentum = momentum;
  options.weight_decay = weight_decay;
  options.nesterov = nesterov;
  momentum_step<SGD>(s, options, lr);
}

void lars_step(ParamSet& s, double lr, double momentum, double weight_decay, double eta) {
  LarsOptions options;
  options.momentum = momentum;
  options.weight_decay = weight_decay;
  options.eta = eta;
  momentum_step<LARS>(s, options, lr);
}

void adamw_step(ParamSet& s, double lr, double beta1, double beta2, double eps, double weight_decay, int64_t step) {
  Registered r(s);
  AdamWOptions options;
  options.beta1 = beta1;
  options.beta2 = beta2;
  options.eps = eps;
  options.weight_decay = weight_decay;
  AdamW opt(r.registry.parameters(), options);
  Registered::load(opt, "exp_avg", s.state0);
  Registered::load(opt, "exp_avg_sq", s.state1);
  opt.set_step_count(step - 1);  // step() counts this one
  opt.step(lr);
  r.store_values(s);
  Registered::store(opt, "exp_avg", s.state0);
  Registered::store(opt, "exp_avg_sq", s.state1);
}

void ema_update(ParamSet& s, double tau) {
  std::vector<Tensor> targets, sources;
  for (size_t k = 0; k < s.p.size(); ++k) {
    const Shape shape{static_cast<int64_t>(s.p[k].size())};
    targets.push_back(Tensor::from_vector(s.p[k], shape, DType::f32));
    sources.push_back(Tensor::from_vector(s.g[k], shape, DType::f32));
  }
  EmaUpdate(targets, sources).update(tau);
  for (size_t k = 0; k < s.p.size(); ++k) s.p[k] = targets[k].to_host_doubles();
}

void scale(ParamSet& s, double factor) {
  Registered r(values_as_gradients(s));
  GradientNorm(r.registry.parameters()).scale(factor);
  for (size_t k = 0; k < s.p.size(); ++k) s.p[k] = r.registry.find(Registered::name(k))->value.grad().to_host_doubles();
}

double squared_norm(const ParamSet& s) {
  Registered r(values_as_gradients(s));
  // compute() is the square root of the double sum: squared back, within a few 1e-16 of it.
  const double norm = GradientNorm(r.registry.parameters()).compute();
  return norm * norm;
}

}  // namespace rsd::test::oracle
