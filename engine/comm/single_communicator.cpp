// The world-size-1 backend: every collective is the identity. Tensors stay where they are (CPU or
// CUDA); collectives that return a tensor return a copy, so that callers may modify the result
// without touching their input, as with the other backends.
#include <cstdlib>

#include "engine/comm/backends.h"

namespace rsd::comm::detail {

namespace {

class DoneWork final : public Work {
 public:
  void wait() override {}
  bool test() override { return true; }
};

Tensor copy_of(const Tensor& x) {
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  y.copy_from(x);
  return y;
}

class SingleCommunicator final : public Communicator {
 public:
  SingleCommunicator(const LaunchInfo& launch, Device device, const CommOptions& options)
      : Communicator(launch, device, options) {}

  std::string backend() const override { return "single"; }

  void all_reduce(Tensor& t, ReduceOp) override { check_tensor("all_reduce", *this, t); }

  std::unique_ptr<Work> all_reduce_async(Tensor& t, ReduceOp) override {
    check_tensor("all_reduce_async", *this, t);
    return std::make_unique<DoneWork>();
  }

  Tensor all_gather(const Tensor& x) override {
    check_tensor("all_gather", *this, x);
    check_rows("all_gather", *this, x, false);
    return copy_of(x);
  }

  Tensor reduce_scatter(const Tensor& x, ReduceOp) override {
    check_tensor("reduce_scatter", *this, x);
    check_rows("reduce_scatter", *this, x, true);
    return copy_of(x);
  }

  void broadcast(Tensor& t, int root) override {
    check_tensor("broadcast", *this, t);
    check_root("broadcast", *this, root);
  }

  void barrier() override {}

  [[noreturn]] void abort(const std::string& why) override {
    print_abort(rank(), why);
    std::_Exit(1);
  }
};

}  // namespace

std::unique_ptr<Communicator> make_single(const LaunchInfo& launch, Device device, const CommOptions& options) {
  return std::make_unique<SingleCommunicator>(launch, device, options);
}

}  // namespace rsd::comm::detail
