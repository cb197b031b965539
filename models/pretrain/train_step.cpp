#include "models/pretrain/train_step.h"

#include <cmath>

#include "engine/allocator.h"
#include "engine/autograd.h"
#include "engine/copy.h"
#include "engine/ops/elementwise.h"
#include "models/layers.h"

namespace rsd::pretrain {

TrainStep::TrainStep(models::SslMethod& method, Optimizer& optimizer, const StepOptions& options)
    : method_(method),
      optimizer_(optimizer),
      options_(options),
      grad_norm_(method.params().parameters()),
      device_(method.params().device()),
      guard_(method.params().device()),
      readback_(method.params().device()) {
  RSD_CHECK(options.grad_accum >= 1, "grad_accum must be at least 1, got ", options.grad_accum);
  RSD_CHECK(options.max_bad_steps >= 1, "max_bad_steps must be at least 1, got ", options.max_bad_steps);
  if (options.comm != nullptr && options.comm->backend() != "single") {
    reducer_ = std::make_unique<comm::GradientReducer>(method.params(), *options.comm,
                                                       comm::GradientReducerOptions{options.bucket_bytes});
  }
  optimizer.set_guard(guard_.guard());
  method.set_step_guard(guard_.guard());
}

TrainStep::~TrainStep() {
  // The optimizer and the method outlive this step runner: they must not keep reading its guard.
  optimizer_.set_guard(Tensor());
  method_.set_step_guard(Tensor());
}

void TrainStep::set_counters(int bad_in_a_row, int64_t skipped_total) {
  bad_in_a_row_ = bad_in_a_row;
  skipped_total_ = skipped_total;
}

void TrainStep::micro_batch(const std::vector<Tensor>& views, bool keep_embedding, Tensor& embedding) {
  std::unique_ptr<models::SyncBatchNormScope> sync;
  if (distributed() && options_.sync_bn) sync = std::make_unique<models::SyncBatchNormScope>(*options_.comm);
  models::SslOutput out;
  {
    // The views share each weight's converted copy; closed before the backward and the update.
    models::ParameterCastScope cast_once;
    out = method_.forward(views);
  }
  // The loss stays on the device (no read-back between forward and backward): its share of the
  // step's mean is added to loss_sum_, read back after the update is queued.
  {
    NoGradScope no_grad;
    if (!loss_sum_.defined()) {
      ArenaSuspend outlives_the_micro_batch;
      loss_sum_ = Tensor::zeros({1}, out.loss.dtype(), out.loss.device());
    }
    accumulate_(loss_sum_, scale(out.loss, 1.0 / options_.grad_accum));
  }
  // The seed 1 / grad_accum in the loss's dtype and device: the gradient of the micro-batch mean.
  Tensor seed = Tensor::full({1}, 1.0 / options_.grad_accum, out.loss.dtype(), out.loss.device());
  backward(out.loss, seed);
  if (keep_embedding) {  // log steps only: a synchronous copy
    ArenaSuspend outlives_the_step;
    embedding = Tensor::empty(out.embedding.shape(), DType::f64);
    embedding.copy_from(out.embedding);
  }
}

void TrainStep::enqueue(const std::function<std::vector<Tensor>()>& next_views, int64_t step, double lr,
                        bool keep_embedding) {
  RSD_CHECK(pending_.size() < 2, "TrainStep: two steps are pending; collect() one before queueing another");
  PendingStep p;
  p.step = step;
  Arena& arena = arena_for(device_);
  method_.params().zero_grad();
  if (loss_sum_.defined()) fill_(loss_sum_, 0.0);  // ordered after the last read-back's copy
  for (int k = 0; k < options_.grad_accum; ++k) {
    {
      ArenaScope scope(arena);
      std::vector<Tensor> views = next_views();
      const bool last = k + 1 == options_.grad_accum;
      std::unique_ptr<LeafGradHookScope> armed = distributed() ? reducer_->arm(last) : nullptr;
      micro_batch(views, keep_embedding && last, p.embedding);
    }
    // Everything of the micro-batch is dead by now (gradients live in the pool): the next one
    // starts from an empty arena, so gradient accumulation costs one micro-batch of activations.
    arena.reset();
  }
  if (distributed()) {
    reducer_->finish();
    options_.comm->all_reduce(loss_sum_, comm::ReduceOp::average);
  }
  // Guard and clipping on the device: the optimizer and the EMA read {skip, scale} there, so the
  // update is queued right behind the backward, with no read-back in between.
  guard_.compute(loss_sum_, grad_norm_.squared_on_device(), options_.grad_clip);
  optimizer_.step(lr);
  {
    ArenaScope scope(arena);  // the method's after-step (BYOL's EMA) may make temporaries
    method_.after_step(step);
  }
  arena.reset();
  // The numbers go to pinned memory behind the queued update; collect() reads them.
  readback_.enqueue({loss_sum_, guard_.norm(), guard_.guard()});
  pending_.push_back(std::move(p));
}

std::optional<StepResult> TrainStep::collect(bool keep_newest) {
  if (pending_.empty() || (keep_newest && pending_.size() < 2)) return std::nullopt;
  PendingStep p = std::move(pending_.front());
  pending_.pop_front();
  // The one place the host waits for the device in a step; in a data-parallel job it watches the
  // step's collectives meanwhile (a dead peer ends the job with an error, not a hang).
  if (distributed()) options_.comm->wait_for([&] { return readback_.ready(); }, "training step");
  const std::vector<double> v = readback_.collect();  // loss, norm, skip, scale
  StepResult r;
  r.step = p.step;
  r.embedding = p.embedding;
  r.loss = v[0];
  r.grad_norm = v[1];
  r.skipped = v[2] != 0.0;
  r.clipped = !r.skipped && v[3] != 1.0;
  if (!r.skipped) {
    bad_in_a_row_ = 0;
    return r;
  }
  ++skipped_total_;
  ++bad_in_a_row_;
  // On a GPU the optimizer counted the step before the device skipped it: take the count back.
  if (device_.is_cuda()) optimizer_.set_step_count(optimizer_.step_count() - 1);
  RSD_CHECK(bad_in_a_row_ < options_.max_bad_steps, "training stopped at step ", p.step, ": ", bad_in_a_row_,
            " steps in a row had a non-finite loss or gradient (last loss ", r.loss, ", gradient norm ", r.grad_norm,
            "). Lower train.lr, set train.grad_clip, check the data for NaN, or use precision = \"fp32\"");
  return r;
}

StepResult TrainStep::run(const std::function<std::vector<Tensor>()>& next_views, int64_t step, double lr,
                          bool keep_embedding) {
  RSD_CHECK(pending_.empty(), "TrainStep::run with queued steps pending: collect() them first");
  enqueue(next_views, step, lr, keep_embedding);
  return *collect(false);
}

}  // namespace rsd::pretrain
