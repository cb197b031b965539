#include "models/demo/toy_training.h"

#include <algorithm>

#include "data/synthetic_bars.h"
#include "engine/allocator.h"
#include "engine/autograd.h"
#include "engine/ops/cross_entropy.h"
#include "engine/optim/schedule.h"
#include "engine/optim/sgd.h"
#include "engine/params.h"
#include "models/small_cnn.h"

namespace rsd::demo {

namespace {

int64_t raw_allocs(Device d) { return arena_for(d).stats().raw_allocs + pool_for(d).stats().raw_allocs; }

double accuracy(const models::SmallCnn& model, const ToyTrainingConfig& c) {
  NoGradScope no_grad;
  const data::BarsBatch eval = data::synthetic_bars(256, c.image_size, c.bands, c.seed + 1, 0, c.device);
  const std::vector<double> logits = model.forward(eval.images, false).to_host_doubles();
  const std::vector<double> labels = eval.labels.to_host_doubles();
  int correct = 0;
  for (size_t n = 0; n < labels.size(); ++n) {
    const auto row = logits.begin() + static_cast<std::ptrdiff_t>(n * data::kBarsClasses);
    const auto best = std::max_element(row, row + data::kBarsClasses) - row;
    correct += static_cast<double>(best) == labels[n];
  }
  return static_cast<double>(correct) / static_cast<double>(labels.size());
}

}  // namespace

ToyTrainingResult train_toy_classifier(const ToyTrainingConfig& c) {
  ParameterRegistry params;
  Generator gen(c.seed);
  const models::SmallCnn model(models::LayerContext{params, gen, c.device, ""}, c.bands, data::kBarsClasses);
  SGD optimizer(params, SGD::Options{/*momentum=*/0.9, /*weight_decay=*/1e-4, /*nesterov=*/true});
  const WarmupCosine schedule{c.lr, std::max(1, c.steps / 10), c.steps, 0.0};
  Arena& arena = arena_for(c.device);

  ToyTrainingResult result;
  result.parameters = params.numel();
  int64_t allocs_after_warmup = 0;
  for (int step = 0; step < c.steps; ++step) {
    // The batch is made outside the arena (it stands in for the data loader's pinned buffers).
    const data::BarsBatch batch = data::synthetic_bars(c.batch, c.image_size, c.bands, c.seed, step, c.device);
    double loss_value;
    {
      ArenaScope scope(arena);
      params.zero_grad();
      const Tensor loss = softmax_cross_entropy(model.forward(batch.images, true), batch.labels);
      backward(loss);
      loss_value = loss.item();
    }
    const double lr = schedule.lr(step);
    optimizer.step(lr);
    arena.reset();
    if (step == 1) allocs_after_warmup = raw_allocs(c.device);
    result.losses.push_back(loss_value);
    if (c.on_step) c.on_step(step, loss_value, lr);
  }
  if (c.steps > 2) result.steady_state_raw_allocs = raw_allocs(c.device) - allocs_after_warmup;
  const size_t tail = std::min<size_t>(10, result.losses.size());
  for (size_t i = result.losses.size() - tail; i < result.losses.size(); ++i) result.final_loss += result.losses[i];
  result.final_loss /= static_cast<double>(tail);
  result.eval_accuracy = accuracy(model, c);
  return result;
}

}  // namespace rsd::demo
