// The oracle of the emulated-kernel tests (tests/emulation/test_emulated_*.cpp): the engine's CPU
// reference (engine/cpu/*.cpp, engine/optim/*.cpp), run in f64 where it computes in f64, on host
// doubles. Each function copies its inputs into CPU tensors, runs the reference kernel
// (rsd::cpu::*), the op or the optimizer, and returns the outputs as doubles, so that every
// kernel is checked against the maths the rest of the engine is checked against, written once.
// Row-major shapes are given in the comments. The interface has no engine types: the test files
// include the kernels' headers, and this one beside them.
#pragma once
#include <cstdint>
#include <vector>

namespace rsd::test::oracle {

// ---- batch norm (engine/cpu/batchnorm.cpp): x, gy (M, C) rows; per-channel vectors (C); an
// empty gamma or beta stands for ones or zeros (the kernels' null pointers).

struct BatchNormTrain {
  std::vector<double> m2;            // (C): sum over the rows of (x - mean)^2
  std::vector<double> mean, invstd;  // (C): the batch statistics, 1 / sqrt(var + eps)
  std::vector<double> y;             // (M, C)
  std::vector<double> running_mean, running_var;  // (C): the given ones after one update
};
BatchNormTrain batch_norm_train(const std::vector<double>& x, int64_t M, int64_t C, const std::vector<double>& gamma,
                                const std::vector<double>& beta, const std::vector<double>& running_mean,
                                const std::vector<double>& running_var, double momentum, double eps);

// y (M, C) normalized with the given statistics (mean, var: (C)).
std::vector<double> batch_norm_eval(const std::vector<double>& x, int64_t M, int64_t C,
                                    const std::vector<double>& gamma, const std::vector<double>& beta,
                                    const std::vector<double>& mean, const std::vector<double>& var, double eps);

// y (M, C) = (x - mean) * invstd * gamma + beta with the given statistics (mean, invstd: (C)),
// SyncBN's apply step.
std::vector<double> batch_norm_apply(const std::vector<double>& x, int64_t M, int64_t C,
                                     const std::vector<double>& gamma, const std::vector<double>& beta,
                                     const std::vector<double>& mean, const std::vector<double>& invstd);

// The training backward over these M rows with the given statistics (mean, invstd: (C)).
struct BatchNormBackward {
  std::vector<double> dbeta, dgamma;  // (C): sum gy, sum gy * xhat
  std::vector<double> gx;             // (M, C)
};
BatchNormBackward batch_norm_backward(const std::vector<double>& x, const std::vector<double>& gy, int64_t M,
                                      int64_t C, const std::vector<double>& gamma, const std::vector<double>& mean,
                                      const std::vector<double>& invstd);

// ---- L2 normalization of rows (engine/cpu/l2norm.cpp): x, y, gy (R, D); norms (R), unclamped.

struct L2Normalize {
  std::vector<double> y, norms;
};
L2Normalize l2_normalize_forward(const std::vector<double>& x, int64_t R, int64_t D, double eps);
std::vector<double> l2_normalize_backward(const std::vector<double>& gy, const std::vector<double>& y,
                                          const std::vector<double>& norms, int64_t R, int64_t D, double eps);

// ---- pooling, NHWC (engine/cpu/pool.cpp).

// Square windows of `kernel` (the op's): y and argmax (h * W + w, -1 for a window wholly in
// padding) (N, P, Q, C).
struct MaxPool {
  std::vector<double> y, argmax;
};
MaxPool max_pool2d_forward(const std::vector<double>& x, int64_t N, int64_t H, int64_t W, int64_t C, int kernel,
                           int stride, int padding, int64_t P, int64_t Q);
// gx (N, H, W, C): gy (N, P, Q, C) summed onto the argmax of each window (the reference reads
// only the argmax, so this serves any window shape).
std::vector<double> max_pool2d_backward(const std::vector<double>& gy, const std::vector<double>& argmax, int64_t N,
                                        int64_t H, int64_t W, int64_t C, int64_t P, int64_t Q);
// x (N, HW, C) -> y (N, C), HW > 0 (the op refuses images without pixels); and back.
std::vector<double> global_avg_pool_forward(const std::vector<double>& x, int64_t N, int64_t HW, int64_t C);
std::vector<double> global_avg_pool_backward(const std::vector<double>& gy, int64_t N, int64_t HW, int64_t C);

// ---- softmax cross-entropy (engine/cpu/cross_entropy.cpp): logits (N, K), labels (N).

struct SoftmaxCrossEntropy {
  std::vector<double> row_lse;  // (N): log-sum-exp of each row, natural units
  double loss = 0.0;            // mean over the rows of row_lse - the label's logit
};
SoftmaxCrossEntropy softmax_cross_entropy_forward(const std::vector<double>& logits,
                                                  const std::vector<int32_t>& labels, int64_t N, int64_t K);
// glogits (N, K) for the gradient gloss of the mean loss, from the given row_lse (N).
std::vector<double> softmax_cross_entropy_backward(const std::vector<double>& logits,
                                                   const std::vector<int32_t>& labels,
                                                   const std::vector<double>& row_lse, double gloss, int64_t N,
                                                   int64_t K);

// ---- reductions (engine/cpu/reduce.cpp, engine/cpu/linear.cpp).

// scale * sum(x).
double scaled_sum(const std::vector<double>& x, double scale);
// (cols): the sums of the columns of x (rows, cols), as linear's bias gradient.
std::vector<double> column_sums(const std::vector<double>& x, int64_t rows, int64_t cols);

// ---- element-wise (engine/cpu/elementwise.cpp, engine/cpu/reduce.cpp), every vector one length.

std::vector<double> relu(const std::vector<double>& x);
// gy where y > 0, else 0.
std::vector<double> relu_backward(const std::vector<double>& y, const std::vector<double>& gy);
// x Phi(x) (exact GELU) and its gradient gy * (Phi(x) + x phi(x)), from x.
std::vector<double> gelu(const std::vector<double>& x);
std::vector<double> gelu_backward(const std::vector<double>& x, const std::vector<double>& gy);
std::vector<double> exp(const std::vector<double>& x);
// gy * y, y = exp(x).
std::vector<double> exp_backward(const std::vector<double>& y, const std::vector<double>& gy);
std::vector<double> scale(const std::vector<double>& x, double s);
std::vector<double> add(const std::vector<double>& a, const std::vector<double>& b);
// n copies of g * scale (the gradient of a scaled sum).
std::vector<double> broadcast_scalar(double g, double scale, int64_t n);

// ---- losses: the ops' forward and backward (engine/cpu/info_nce.cpp, engine/cpu/cosine_loss.cpp).

// info_nce_loss of a (n, d), b (m, d) with the one-element tau (engine/ops/info_nce.h), and the
// gradients for an upstream gradient g.
struct InfoNce {
  double loss = 0.0, dtau = 0.0;
  std::vector<double> da, db;
};
InfoNce info_nce(const std::vector<double>& a, const std::vector<double>& b, int64_t n, int64_t m, int64_t d,
                 double tau, int64_t offset, bool symmetric, double eps, double g);

// byol_cosine_loss of p, z (B, D) and dp = g * dloss/dp.
struct CosineLoss {
  double loss = 0.0;
  std::vector<double> dp;
};
CosineLoss byol_cosine_loss(const std::vector<double>& p, const std::vector<double>& z, int64_t B, int64_t D,
                            double eps, double g);

// ---- optimizers (engine/optim/*.cpp, the CPU path of each class: f32 arithmetic, as the kernels).

// Tensors of f32 values (as doubles), one entry per parameter: values p, gradients g, the
// optimizer's states (SGD and LARS: the momentum in state0; AdamW: exp_avg, exp_avg_sq) and
// whether it is excluded from weight decay and LARS adaptation. A step updates p and the states.
struct ParamSet {
  std::vector<std::vector<double>> p, g, state0, state1;
  std::vector<bool> excluded;
};
// state0 is read and written only with momentum.
void sgd_step(ParamSet& s, double lr, double momentum, double weight_decay, bool nesterov);
void lars_step(ParamSet& s, double lr, double momentum, double weight_decay, double eta);
// Step number `step` (1 for the first: the bias corrections).
void adamw_step(ParamSet& s, double lr, double beta1, double beta2, double eps, double weight_decay, int64_t step);
// p = tau * p + (1 - tau) * g (EMA targets p, sources g).
void ema_update(ParamSet& s, double tau);
// p *= factor, and the sum of p^2 over every tensor (a gradient norm's).
void scale(ParamSet& s, double factor);
double squared_norm(const ParamSet& s);

}  // namespace rsd::test::oracle
