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
      guard_(method.params().device()) {
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

void TrainStep::micro_batch(const std::vector<Tensor>& views, bool keep_embedding, StepResult& r) {
  std::unique_ptr<models::SyncBatchNormScope> sync;
  if (distributed() && options_.sync_bn) sync = std::make_unique<models::SyncBatchNormScope>(*options_.comm);
  models::SslOutput out = method_.forward(views);
  // The loss stays on the device (no read-back between forward and backward): its share of the
  // step's mean is added to loss_sum_, read once after the last backward.
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
  if (keep_embedding) {
    ArenaSuspend outlives_the_step;
    r.embedding = Tensor::empty(out.embedding.shape(), DType::f64);
    r.embedding.copy_from(out.embedding);
  }
}

StepResult TrainStep::run(const std::function<std::vector<Tensor>()>& next_views, int64_t step, double lr,
                          bool keep_embedding) {
  StepResult r;
  Arena& arena = arena_for(device_);
  method_.params().zero_grad();
  if (loss_sum_.defined()) fill_(loss_sum_, 0.0);
  for (int k = 0; k < options_.grad_accum; ++k) {
    {
      ArenaScope scope(arena);
      std::vector<Tensor> views = next_views();
      const bool last = k + 1 == options_.grad_accum;
      std::unique_ptr<LeafGradHookScope> armed = distributed() ? reducer_->arm(last) : nullptr;
      micro_batch(views, keep_embedding && last, r);
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
  // The step's one read-back, with the update already queued.
  const std::vector<double> guard = guard_.guard().to_host_doubles();
  r.loss = loss_sum_.item();
  r.grad_norm = guard_.norm().item();
  r.skipped = guard[0] != 0.0;
  r.clipped = !r.skipped && guard[1] != 1.0;
  if (!r.skipped) {
    bad_in_a_row_ = 0;
    return r;
  }
  ++skipped_total_;
  ++bad_in_a_row_;
  // On a GPU the optimizer counted the step before the device skipped it: take the count back.
  if (device_.is_cuda()) optimizer_.set_step_count(optimizer_.step_count() - 1);
  RSD_CHECK(bad_in_a_row_ < options_.max_bad_steps, "training stopped at step ", step, ": ", bad_in_a_row_,
            " steps in a row had a non-finite loss or gradient (last loss ", r.loss, ", gradient norm ", r.grad_norm,
            "). Lower train.lr, set train.grad_clip, check the data for NaN, or use precision = \"fp32\"");
  return r;
}

}  // namespace rsd::pretrain
