// GradientReducer: data-parallel gradient averaging, in buckets launched during the backward.
//
//   GradientReducer reducer(params, comm, {.bucket_bytes = 25 << 20});
//   for each micro-batch k: { auto arm = reducer.arm(k + 1 == grad_accum); forward; backward; }
//   reducer.finish();   // every gradient is now the average over ranks
//
// Buckets: the parameters in reverse registration order (the backward produces the last layers'
// gradients first), cut into groups of at most bucket_bytes of f32 gradient; each bucket has a
// flat buffer of that size. During the armed backward a LeafGradHookScope counts each
// parameter's gradient accumulations; when every parameter of a bucket has received as many as
// it did in the first step (the graph of a step is fixed; a parameter used twice, as BYOL's
// online encoder on two views, receives two), its gradients are copied into the flat buffer and
// an asynchronous all-reduce (average) starts (NCCL: on the communication stream, overlapping
// the rest of the backward; MPI: non-blocking, progressed from the hook). The first step only
// learns the counts: its buckets all start in finish(). finish() starts any bucket not started
// yet, waits for all, and copies the averages back into the gradients.
//
// A parameter that receives more accumulations than learned means the graph changed between
// steps: an error (a bucket already sent would be missing the extra gradient).
// With gradient accumulation only the last micro-batch is armed: earlier ones accumulate locally.
#pragma once
#include <cstddef>
#include <memory>
#include <unordered_map>
#include <vector>

#include "engine/autograd.h"
#include "engine/comm/communicator.h"
#include "engine/params.h"

namespace rsd::comm {

struct GradientReducerOptions {
  size_t bucket_bytes = size_t{25} << 20;
};

class GradientReducer {
 public:
  GradientReducer(ParameterRegistry& params, Communicator& comm, const GradientReducerOptions& options = {});
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // While the returned scope lives, the backward launches buckets as they complete (when
  // last_micro_batch); otherwise nothing is installed and gradients only accumulate.
  std::unique_ptr<LeafGradHookScope> arm(bool last_micro_batch);
  // Starts what has not started, waits, writes the averaged gradients back. After the armed
  // backward of each step.
  void finish();

  size_t bucket_count() const { return buckets_.size(); }
  // How many buckets started during the last armed backward (before finish): the overlap.
  size_t started_during_backward() const { return started_during_backward_; }

 private:
  struct Slot {
    Tensor value;       // the parameter (its grad() is the persistent buffer)
    size_t bucket = 0;
    int64_t offset = 0;  // in the bucket's flat buffer, elements
    int expected = 0;    // accumulations per armed backward, learned in the first step
    int seen = 0;
  };
  struct Bucket {
    std::vector<size_t> slots;
    Tensor flat;        // f32 (elements), on the parameters' device
    size_t ready = 0;   // slots complete in this backward
    std::unique_ptr<Work> work;
  };

  void on_leaf_grad(const Tensor& leaf);
  void start(Bucket& b);
  void progress();

  Communicator& comm_;
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  std::unordered_map<const TensorImpl*, size_t> slot_of_;
  bool learned_ = false;
  size_t started_during_backward_ = 0;
};

}  // namespace rsd::comm
