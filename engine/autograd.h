// Autograd-lite. Ops record a node on the thread's tape when grad mode is on and an input requires
// grad; the node's closure holds what backward needs (saved tensors, a context) and, when run,
// reads its outputs' gradients and accumulates into its inputs'. backward() walks the tape in
// reverse, releasing each node (its saved tensors) as soon as it has run, then clears it. No graph rewriting: the tape is the program order, replayed backwards.
//
//   Tensor y = relu(x);            // records "relu" if x.requires_grad()
//   backward(loss);                // fills x.grad()
#pragma once
#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace rsd {

bool grad_enabled();

// Turns recording off for its lifetime (evaluation, EMA updates, metrics).
class NoGradScope {
 public:
  NoGradScope();
  ~NoGradScope();
  NoGradScope(const NoGradScope&) = delete;
  NoGradScope& operator=(const NoGradScope&) = delete;

 private:
  bool previous_;
};

struct TapeNode {
  const char* op;
  std::vector<Tensor> outputs;    // their gradients are released once the node has run
  std::function<void()> backward;
};

class Tape {
 public:
  void push(TapeNode node) { nodes_.push_back(std::move(node)); }
  // Seeds root's gradient (ones when root has one element and no seed is given), runs every node
  // in reverse order, and clears the tape.
  void backward(const Tensor& root, const Tensor& seed = Tensor());
  void clear() { nodes_.clear(); }
  size_t size() const { return nodes_.size(); }
  std::vector<std::string> op_names() const;

 private:
  std::vector<TapeNode> nodes_;
};

// The tape of the calling thread.
Tape& tape();

// True when an op on these inputs must be recorded.
bool needs_grad(std::initializer_list<Tensor> inputs);
// Records a node: marks each output as requiring grad and not a leaf.
void record(const char* op, std::vector<Tensor> outputs, std::function<void()> backward);
// t.grad += g. A leaf's first gradient is allocated outside any step arena so it outlives the step.
// No-op when t does not require grad.
void accumulate_grad(const Tensor& t, const Tensor& g);

// Called on the calling thread right after a leaf's gradient was accumulated (data-parallel
// training launches a bucket's all-reduce once its gradients are complete: engine/comm/
// grad_reducer.h). Installed for the scope's lifetime; scopes nest, the innermost wins.
using LeafGradHook = std::function<void(const Tensor& leaf)>;
class LeafGradHookScope {
 public:
  explicit LeafGradHookScope(LeafGradHook hook);
  ~LeafGradHookScope();
  LeafGradHookScope(const LeafGradHookScope&) = delete;
  LeafGradHookScope& operator=(const LeafGradHookScope&) = delete;

 private:
  LeafGradHook hook_;
  LeafGradHook* previous_;
};

inline void backward(const Tensor& root, const Tensor& seed = Tensor()) { tape().backward(root, seed); }

}  // namespace rsd
