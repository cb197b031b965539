#include "models/pretrain/train_step.h"

#include <cmath>

#include "engine/allocator.h"
#include "engine/autograd.h"
#include "engine/copy.h"
#include "models/layers.h"

namespace rsd::pretrain {

TrainStep::TrainStep(models::SslMethod& method, Optimizer& optimizer, const StepOptions& options)
    : method_(method),
      optimizer_(optimizer),
      options_(options),
      grad_norm_(method.params().parameters()),
      device_(method.params().device()) {
  RSD_CHECK(options.grad_accum >= 1, "grad_accum must be at least 1, got ", options.grad_accum);
  RSD_CHECK(options.max_bad_steps >= 1, "max_bad_steps must be at least 1, got ", options.max_bad_steps);
  if (options.comm != nullptr && options.comm->backend() != "single") {
    reducer_ = std::make_unique<comm::GradientReducer>(method.params(), *options.comm,
                                                       comm::GradientReducerOptions{options.bucket_bytes});
  }
}

void TrainStep::set_counters(int bad_in_a_row, int64_t skipped_total) {
  bad_in_a_row_ = bad_in_a_row;
  skipped_total_ = skipped_total;
}

double TrainStep::micro_batch(const std::vector<Tensor>& views, bool keep_embedding, StepResult& r) {
  std::unique_ptr<models::SyncBatchNormScope> sync;
  if (distributed() && options_.sync_bn) sync = std::make_unique<models::SyncBatchNormScope>(*options_.comm);
  models::SslOutput out;
  {
    // The views share each weight's converted copy; closed before the backward and the update.
    models::ParameterCastScope cast_once;
    out = method_.forward(views);
  }
  const double value = out.loss.item();
  // The seed 1 / grad_accum in the loss's dtype and device: the gradient of the micro-batch mean.
  Tensor seed = Tensor::full({1}, 1.0 / options_.grad_accum, out.loss.dtype(), out.loss.device());
  backward(out.loss, seed);
  if (keep_embedding) {
    ArenaSuspend outlives_the_step;
    r.embedding = Tensor::empty(out.embedding.shape(), DType::f64);
    r.embedding.copy_from(out.embedding);
  }
  return value;
}

StepResult TrainStep::run(const std::function<std::vector<Tensor>()>& next_views, int64_t step, double lr,
                          bool keep_embedding) {
  StepResult r;
  Arena& arena = arena_for(device_);
  method_.params().zero_grad();
  for (int k = 0; k < options_.grad_accum; ++k) {
    ArenaScope scope(arena);
    std::vector<Tensor> views = next_views();
    const bool last = k + 1 == options_.grad_accum;
    std::unique_ptr<LeafGradHookScope> armed = distributed() ? reducer_->arm(last) : nullptr;
    r.loss += micro_batch(views, keep_embedding && last, r) / options_.grad_accum;
  }
  if (distributed()) {
    reducer_->finish();
    Tensor loss = Tensor::full({1}, r.loss, DType::f64, options_.comm->device());
    options_.comm->all_reduce(loss, comm::ReduceOp::average);
    r.loss = loss.item();
  }
  r.grad_norm = grad_norm_.compute();
  if (!std::isfinite(r.loss) || !std::isfinite(r.grad_norm)) {
    r.skipped = true;
    ++skipped_total_;
    ++bad_in_a_row_;
    arena.reset();
    RSD_CHECK(bad_in_a_row_ < options_.max_bad_steps, "training stopped at step ", step, ": ", bad_in_a_row_,
              " steps in a row had a non-finite loss or gradient (last loss ", r.loss, ", gradient norm ",
              r.grad_norm, "). Lower train.lr, set train.grad_clip, check the data for NaN, or use "
              "precision = \"fp32\"");
    return r;
  }
  bad_in_a_row_ = 0;
  if (options_.grad_clip > 0 && r.grad_norm > options_.grad_clip) {
    grad_norm_.scale(options_.grad_clip / (r.grad_norm + 1e-6));
    r.clipped = true;
  }
  optimizer_.step(lr);
  method_.after_step(step);
  arena.reset();
  return r;
}

}  // namespace rsd::pretrain
