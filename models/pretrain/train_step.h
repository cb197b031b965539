// One optimizer step of self-supervised pretraining, shared by `rsd pretrain`, the tests and the
// training benchmark:
//   zero the gradients; for each of grad_accum micro-batches: forward (method), backward with the
//   loss seeded by 1 / grad_accum (so the gradient is that of the mean over micro-batches);
//   the global gradient norm; the NaN/Inf guard; clipping; the optimizer step; the method's
//   after-step (BYOL's EMA).
// Each micro-batch runs inside the device's step arena, which is reset after it (gradients live in
// the pool), so accumulation costs one micro-batch of activations and a steady-state step makes no
// raw allocation. The loss stays on the device until the step's one read-back, with the gradient
// norm, after the last backward.
//
// Data-parallel (options.comm, any backend but "single"; an NCCL job of one rank runs it too): each rank runs its share of the global
// batch; a GradientReducer (engine/comm/grad_reducer.h) averages the gradients over ranks in
// buckets launched during the last micro-batch's backward; sync_bn puts every BatchNorm under a
// SyncBatchNormScope; the loss is averaged over ranks before the guard and the log, so every rank
// takes the same decisions (skip, clip) on the same numbers and the weights stay identical.
//
// NaN/Inf guard and clipping (engine/optim/step_guard.h), decided on the device: a step whose loss
// or gradient norm is not finite is skipped (the optimizer and the EMA, which read the guard there,
// change nothing) and counted when the step's numbers are read back, after the update is queued;
// after max_bad_steps skipped steps in a row, the run stops with an rsd::Error that says what to
// try. The BN running statistics of a skipped step's forward are kept (as in
// PyTorch with a skipped optimizer step).
#pragma once
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "engine/comm/grad_reducer.h"
#include "engine/optim/grad_norm.h"
#include "engine/optim/optimizer.h"
#include "engine/optim/step_guard.h"
#include "engine/scalar_readback.h"
#include "models/ssl_method.h"

namespace rsd::pretrain {

struct StepOptions {
  int grad_accum = 1;
  double grad_clip = 0.0;   // max global gradient norm; 0: off
  int max_bad_steps = 5;
  comm::Communicator* comm = nullptr;  // data-parallel job; nullptr (or the "single" backend): one process
  size_t bucket_bytes = size_t{25} << 20;
  bool sync_bn = false;
};

struct StepResult {
  int64_t step = -1;        // the step these numbers describe
  double loss = 0;          // mean over the micro-batches (and over ranks)
  double grad_norm = 0;     // before clipping
  bool skipped = false;     // the guard skipped it
  bool clipped = false;
  Tensor embedding;         // (N, D) f64 on the host: view 0's projection (keep_embedding)
};

class TrainStep {
 public:
  TrainStep(models::SslMethod& method, Optimizer& optimizer, const StepOptions& options);
  ~TrainStep();
  TrainStep(const TrainStep&) = delete;
  TrainStep& operator=(const TrainStep&) = delete;
  // next_views() gives one micro-batch's views (it may load data). step counts from 0.
  // keep_embedding: copy the last micro-batch's view-0 projection to the host (the monitors).
  // run() queues the step and waits for its numbers.
  StepResult run(const std::function<std::vector<Tensor>()>& next_views, int64_t step, double lr,
                 bool keep_embedding = false);
  // The same split in two, so that a GPU never waits for the host: enqueue() queues the step and
  // its read-back (at most two steps pending); collect() returns the oldest pending step's
  // numbers, waiting for them, and does its bookkeeping (skipped steps, the stop after
  // max_bad_steps in a row). keep_newest: leave the newest pending step queued (nullopt when it
  // is the only one). The trainer queues step t + 1 before reading step t.
  void enqueue(const std::function<std::vector<Tensor>()>& next_views, int64_t step, double lr,
               bool keep_embedding = false);
  std::optional<StepResult> collect(bool keep_newest = false);
  int pending() const { return static_cast<int>(pending_.size()); }
  int bad_in_a_row() const { return bad_in_a_row_; }
  // The data-parallel gradient reducer, or nullptr for one process.
  const comm::GradientReducer* reducer() const { return reducer_.get(); }
  int64_t skipped_total() const { return skipped_total_; }
  // Restored from a checkpoint, so a resumed run stops where an uninterrupted one would.
  void set_counters(int bad_in_a_row, int64_t skipped_total);

 private:
  struct PendingStep {
    int64_t step = 0;
    Tensor embedding;
  };
  void micro_batch(const std::vector<Tensor>& views, bool keep_embedding, Tensor& embedding);
  bool distributed() const { return reducer_ != nullptr; }

  models::SslMethod& method_;
  Optimizer& optimizer_;
  StepOptions options_;
  GradientNorm grad_norm_;
  Device device_;
  StepGuard guard_;  // {skip, gradient scale} on the device, read by the optimizer and the EMA
  ScalarReadback readback_;  // loss, norm and guard of the pending steps, in pinned memory
  std::deque<PendingStep> pending_;
  std::unique_ptr<comm::GradientReducer> reducer_;  // data-parallel only
  Tensor loss_sum_;  // (1) on the device, the loss's dtype: the step's mean loss, summed over micro-batches
  int bad_in_a_row_ = 0;
  int64_t skipped_total_ = 0;
};

}  // namespace rsd::pretrain
