#include "engine/comm/grad_reducer.h"

#include "engine/allocator.h"
#include "engine/copy.h"

namespace rsd::comm {

GradientReducer::GradientReducer(ParameterRegistry& params, Communicator& comm,
                                 const GradientReducerOptions& options)
    : comm_(comm) {
  RSD_CHECK(options.bucket_bytes >= sizeof(float), "gradient bucket size must be positive, got ",
            options.bucket_bytes, " bytes");
  std::vector<Parameter*> ps = params.parameters();
  const int64_t bucket_elems = static_cast<int64_t>(options.bucket_bytes / sizeof(float));
  std::vector<int64_t> sizes;
  for (auto it = ps.rbegin(); it != ps.rend(); ++it) {
    const Tensor& v = (*it)->value;
    RSD_CHECK(v.dtype() == DType::f32 && v.grad().defined(), "gradient reducer: parameter ", (*it)->name, " ",
              v.describe(), " must be f32 with a gradient buffer (a trainable registry)");
    RSD_CHECK(v.device() == comm.device(), "gradient reducer: parameter ", (*it)->name, " is on ",
              v.device().str(), " but the communicator on ", comm.device().str());
    if (buckets_.empty() || (sizes.back() > 0 && sizes.back() + v.numel() > bucket_elems)) {
      buckets_.emplace_back();
      sizes.push_back(0);
    }
    Slot s;
    s.value = v;
    s.bucket = buckets_.size() - 1;
    s.offset = sizes.back();
    sizes.back() += v.numel();
    slot_of_[v.impl()] = slots_.size();
    buckets_.back().slots.push_back(slots_.size());
    slots_.push_back(std::move(s));
  }
  ArenaSuspend persistent;  // the buffers live as long as the reducer
  for (size_t b = 0; b < buckets_.size(); ++b) buckets_[b].flat = Tensor::empty({sizes[b]}, DType::f32, comm.device());
}

std::unique_ptr<LeafGradHookScope> GradientReducer::arm(bool last_micro_batch) {
  for (Slot& s : slots_) s.seen = 0;
  for (Bucket& b : buckets_) {
    b.ready = 0;
    b.work.reset();
  }
  started_during_backward_ = 0;
  if (!last_micro_batch) return nullptr;
  return std::make_unique<LeafGradHookScope>([this](const Tensor& leaf) { on_leaf_grad(leaf); });
}

void GradientReducer::on_leaf_grad(const Tensor& leaf) {
  auto it = slot_of_.find(leaf.impl());
  if (it == slot_of_.end()) return;  // a leaf that is not one of this registry's parameters
  Slot& s = slots_[it->second];
  ++s.seen;
  if (!learned_) return;
  RSD_CHECK(s.seen <= s.expected, "data-parallel gradient reducer: a parameter of shape ", shape_str(s.value.shape()),
            " received ", s.seen, " gradient contributions in this backward but ", s.expected,
            " in the first step; the model's graph must be the same every step");
  if (s.seen < s.expected) return;
  Bucket& b = buckets_[s.bucket];
  if (++b.ready == b.slots.size()) {
    start(b);
    ++started_during_backward_;
  }
  progress();
}

void GradientReducer::start(Bucket& b) {
  for (size_t i : b.slots) {
    const Slot& s = slots_[i];
    copy_range(s.value.grad(), 0, b.flat, s.offset, s.value.numel());
  }
  b.work = comm_.all_reduce_async(b.flat, ReduceOp::average);
}

void GradientReducer::progress() {
  for (Bucket& b : buckets_)
    if (b.work) b.work->test();
}

void GradientReducer::finish() {
  if (!learned_) {
    for (Slot& s : slots_) s.expected = s.seen;
    learned_ = true;
  }
  for (Bucket& b : buckets_)
    if (!b.work) start(b);
  for (Bucket& b : buckets_) {
    // On NCCL the compute stream waits for the bucket, the host does not: the step's read-back is
    // where it waits, watching the collectives (Communicator::wait_for).
    b.work->wait_on_device();
    for (size_t i : b.slots) {
      Slot& s = slots_[i];
      Tensor g = s.value.grad();
      copy_range(b.flat, s.offset, g, 0, s.value.numel());
    }
    b.work.reset();
  }
}

}  // namespace rsd::comm
