#include "engine/autograd.h"

#include "engine/allocator.h"
#include "engine/ops/elementwise.h"

namespace rsd {

namespace {
thread_local bool t_grad_enabled = true;
thread_local Tape t_tape;
thread_local LeafGradHook* t_leaf_grad_hook = nullptr;
}  // namespace

LeafGradHookScope::LeafGradHookScope(LeafGradHook hook) : hook_(std::move(hook)), previous_(t_leaf_grad_hook) {
  t_leaf_grad_hook = &hook_;
}
LeafGradHookScope::~LeafGradHookScope() { t_leaf_grad_hook = previous_; }

bool grad_enabled() { return t_grad_enabled; }

NoGradScope::NoGradScope() : previous_(t_grad_enabled) { t_grad_enabled = false; }
NoGradScope::~NoGradScope() { t_grad_enabled = previous_; }

Tape& tape() { return t_tape; }

bool needs_grad(std::initializer_list<Tensor> inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.requires_grad()) return true;
  return false;
}

void record(const char* op, std::vector<Tensor> outputs, std::function<void()> backward) {
  for (Tensor& o : outputs) {
    o.impl()->requires_grad = true;
    o.impl()->is_leaf = false;
  }
  t_tape.push(TapeNode{op, std::move(outputs), std::move(backward)});
}

void accumulate_grad(const Tensor& t, const Tensor& g) {
  if (!t.requires_grad()) return;
  RSD_CHECK(g.shape() == t.shape() && g.device() == t.device(), "autograd: gradient ", g.describe(),
            " does not match its tensor ", t.describe());
  TensorImpl* impl = t.impl();
  if (impl->grad.defined() && impl->is_leaf) {
    accumulate_(impl->grad, g);  // a leaf's gradient is its own buffer: add in place
    if (t_leaf_grad_hook) (*t_leaf_grad_hook)(t);
  } else if (impl->grad.defined()) {
    // A non-leaf's gradient may be shared with another tensor (add passes one gradient to both
    // inputs), so it is never modified in place.
    Tensor total = Tensor::empty(t.shape(), t.dtype(), t.device());
    total.copy_from(impl->grad);
    accumulate_(total, g);
    impl->grad = total;
  } else if (impl->is_leaf) {
    ArenaSuspend persistent;
    Tensor copy = Tensor::empty(t.shape(), t.dtype(), t.device());
    copy.copy_from(g);
    impl->grad = copy;
    if (t_leaf_grad_hook) (*t_leaf_grad_hook)(t);
  } else {
    impl->grad = g;
  }
}

void Tape::backward(const Tensor& root, const Tensor& seed) {
  RSD_CHECK(root.requires_grad(), "backward: ", root.describe(), " does not require grad (nothing recorded it)");
  Tensor g = seed;
  if (!g.defined()) {
    RSD_CHECK(root.numel() == 1, "backward: ", root.describe(), " is not a scalar: pass the seed gradient");
    g = Tensor::full(root.shape(), 1.0, root.dtype(), root.device());
  }
  accumulate_grad(root, g);
  for (auto it = nodes_.rbegin(); it != nodes_.rend(); ++it) {
    bool any_grad = false;
    for (const Tensor& o : it->outputs) any_grad = any_grad || o.impl()->grad.defined();
    if (any_grad) it->backward();
    for (const Tensor& o : it->outputs) o.impl()->grad = Tensor();
    // The node is done: what its closure saved (activations, masks, statistics) and its outputs
    // are released now, not when the tape is cleared, so the step arena reuses that memory for
    // the rest of the backward.
    it->backward = nullptr;
    it->outputs.clear();
  }
  nodes_.clear();
}

std::vector<std::string> Tape::op_names() const {
  std::vector<std::string> names;
  for (const TapeNode& n : nodes_) names.emplace_back(n.op);
  return names;
}

}  // namespace rsd
