// InfoNCE loss kernels (engine/ops/info_nce.h has the definitions): the fused tiled path, which
// never materializes the N x M logits, and the small kernels of the plain path.
// Host header: plain C++, no engine types.
//
// Fused path, in order (design and reasoning in info_nce.cu):
//   info_nce_row_norms            |A_i|, |B_j|
//   info_nce_lse_partials  rows   per (split of b, row i): running max and sum of exp2 of S_ij, and
//                                 the positive logit; a (N) against b (M)
//   info_nce_lse_partials  cols   the same for the N positive columns: b[offset, offset+N) against a
//   info_nce_finalize             merges the splits: lse_row, lse_col and the per-row losses
//   (reduce_sum of the row losses, scale ln(2) / (N (symmetric ? 2 : 1)))
// backward:
//   info_nce_grad_partials rows   d a_hat per split of b, and partial sums of G * S for dtau
//   info_nce_grad_finish          sum of the splits, L2-normalization backward -> dA
//   info_nce_grad_partials cols   d b_hat per split of a
//   info_nce_grad_finish          -> dB
//   info_nce_dtau                 dtau = -(sum of the partials) / tau
// Logits and log-sum-exps are kept in log2 units inside the fused path (S * log2(e)): exp2 is the
// hardware instruction. lse vectors and positives passed between these kernels are in log2 units.
// Work (multiply-adds x 2, for TFLOP/s): forward 2 N D (M + [symmetric] N), backward 8 N M D
// (each backward pass recomputes S and multiplies G by the other operand). The model's own count,
// as a materialized implementation does it, is 2 N M D forward and 4 N M D backward.
#pragma once
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cstddef>
#include <cstdint>

namespace rsd::kernels {

// The problem: a (N, D), b (M, D) row-major; the positive of a row i is b row offset + i.
// norms_a (N), norms_b (M) from info_nce_row_norms; tau: one device float. T: float or
// __nv_bfloat16.
template <typename T>
struct InfoNceProblem {
  const T* a;
  const T* b;
  const float* norms_a;
  const float* norms_b;
  const float* tau;
  int64_t N, M, D, offset;
  float eps;
  bool symmetric;
};

// Which rows a pass owns. rows: a's N rows against b's rows (all M). cols: b's rows against a's
// N rows; for the forward only b's N positive rows (the positive columns of S), for the backward
// all M rows of b (every column of S has a gradient).
enum class InfoNcePass { rows, cols };

// norms[r] = |x_r| for x: (R, D). T: float, __nv_bfloat16.
template <typename T>
void info_nce_row_norms(const T* x, float* norms, int64_t R, int64_t D, cudaStream_t s);

// The number of splits of the looped-over rows for a fused pass whose owned operand has rows_x
// rows and looped operand rows_y: enough blocks to fill the device, at most max_splits and at
// most one per tile of 64 looped rows. Depends only on the sizes and the device.
template <typename T>
int info_nce_splits(int64_t rows_x, int64_t rows_y, int max_splits);

// Owned rows per block of the fused kernels (the dtau partials count blocks).
template <typename T>
int64_t info_nce_block_rows();

// Forward partials of one pass: partials (3, splits, N) floats: per split and owned row, the
// maximum of S (log2 units), the sum of exp2(S - maximum), and the positive logit where the
// split holds it, 0 elsewhere (so that the sum over splits is the positive). Each pass computes
// its own positives, from the same products as its log-sum-exps, so that a row whose only
// column is its positive has a loss of exactly 0. The two passes need one buffer each.
// Returns the error of opting the kernel in to its shared memory (then nothing is launched);
// launch errors are the caller's to read (cudaGetLastError), as for every launcher.
template <typename T>
cudaError_t info_nce_lse_partials(const InfoNceProblem<T>& p, InfoNcePass pass, int splits, float* partials,
                                  cudaStream_t s);

// Merges the partials: lse_row, lse_col (N, log2 units; lse_col only when symmetric) and
// row_loss[i] = (lse_row_i - pos_i) + [symmetric] (lse_col_i - pos_i) in log2 units.
void info_nce_finalize(int64_t N, bool symmetric, const float* row_partials, int row_splits,
                       const float* col_partials, int col_splits, float* lse_row, float* lse_col, float* row_loss,
                       cudaStream_t s);

// Backward partials of one pass, with g = gloss[0] the gradient of the loss:
//   dxhat: (splits, R, D) floats, R = N for rows (d a_hat) and M for cols (d b_hat); each split's
//          sum over its share of the looped rows.
//   dtau_partials (rows pass only, else nullptr): (splits * ceil(N / info_nce_block_rows)) floats,
//          sums of G_ij S_ij (natural units).
// lse_row, lse_col: from info_nce_finalize (lse_col ignored unless symmetric). Returns as
// info_nce_lse_partials.
template <typename T>
cudaError_t info_nce_grad_partials(const InfoNceProblem<T>& p, InfoNcePass pass, const float* lse_row,
                                   const float* lse_col, const float* gloss, int splits, float* dxhat,
                                   float* dtau_partials, cudaStream_t s);

// dx (R, D) = L2-normalization backward of d x_hat = sum of the splits of dxhat, through
// x_hat = x / max(norm, eps): (d x_hat - x_hat <d x_hat, x_hat>) / norm, or d x_hat / eps when
// norm <= eps. T: float, __nv_bfloat16.
template <typename T>
void info_nce_grad_finish(const float* dxhat, int splits, const T* x, const float* norms, int64_t R, int64_t D,
                          float eps, T* dx, cudaStream_t s);

// dtau[0] = -(sum of partials[0..count), in order) / tau[0].
void info_nce_dtau(const float* partials, int64_t count, const float* tau, float* dtau, cudaStream_t s);

// ---- the whole fused path: the kernels above in order (engine/cuda/info_nce.cpp calls these) ----

// Floats of scratch info_nce_forward needs: the split partials of both passes.
template <typename T>
int64_t info_nce_forward_scratch(int64_t N, int64_t M, bool symmetric);

// The forward: norms_a (N) and norms_b (M) (p.norms_a, p.norms_b are ignored; the backward takes
// a problem pointing at these), lse_row and lse_col (N each, log2 units; lse_col only when
// symmetric) and row_loss (N, log2 units: the loss is ln 2 / (N (symmetric ? 2 : 1)) times their
// sum). scratch: info_nce_forward_scratch floats. Returns the first refusal of a fused kernel's
// shared memory (cudaFuncSetAttribute), after which nothing more is launched; check the launches
// with cudaGetLastError as well.
template <typename T>
cudaError_t info_nce_forward(const InfoNceProblem<T>& p, float* norms_a, float* norms_b, float* lse_row,
                             float* lse_col, float* row_loss, float* scratch, cudaStream_t s);

// Floats of scratch info_nce_backward needs: the larger pass's split partials of d x_hat (the two
// passes run one after the other), at most (N + M) D plus the dtau partials.
template <typename T>
int64_t info_nce_backward_scratch(int64_t N, int64_t M, int64_t D);

// The backward: da (N, D), db (M, D) and dtau[0] for the loss gradient gloss[0], from the
// forward's norms (in p) and lse vectors. The rows pass (d a_hat, dtau), then the cols pass.
// Returns as info_nce_forward.
template <typename T>
cudaError_t info_nce_backward(const InfoNceProblem<T>& p, const float* lse_row, const float* lse_col,
                              const float* gloss, T* da, T* db, float* dtau, float* scratch, cudaStream_t s);

// ---- the plain path's kernels (logits materialized; engine/cuda/info_nce.cpp) ----

// y = x / tau[0]. T: float, __nv_bfloat16.
template <typename T>
void info_nce_plain_scale(const T* x, const float* tau, T* y, int64_t n, cudaStream_t s);

// labels[i] = offset + i for i < n.
void info_nce_plain_labels(int32_t* labels, int64_t n, int64_t offset, cudaStream_t s);

// Partial sums of g[i] * x[i] for the dtau of the plain path: info_nce_plain_dot_blocks(n)
// floats, added by info_nce_dtau (partials of several products may share one buffer).
int64_t info_nce_plain_dot_blocks(int64_t n);
void info_nce_plain_dot_partials(const float* g, const float* x, int64_t n, float* partials, cudaStream_t s);

}  // namespace rsd::kernels
