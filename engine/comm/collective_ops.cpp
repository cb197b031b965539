#include "engine/comm/collective_ops.h"

#include "engine/autograd.h"

namespace rsd::comm {

Tensor all_gather_rows(const Tensor& x, Communicator& c) {
  Tensor y = c.all_gather(x);
  if (needs_grad({x})) {
    Communicator* comm = &c;
    record("all_gather_rows", {y}, [x, y, comm] {
      accumulate_grad(x, comm->reduce_scatter(y.grad(), ReduceOp::sum));
    });
  }
  return y;
}

Tensor all_reduce_sum(const Tensor& x, Communicator& c) {
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  y.copy_from(x);
  c.all_reduce(y, ReduceOp::sum);
  if (needs_grad({x})) {
    Communicator* comm = &c;
    record("all_reduce_sum", {y}, [x, y, comm] {
      // y's gradient may be shared with another tensor (autograd.h): reduce a copy.
      Tensor g = Tensor::empty(y.shape(), y.dtype(), y.device());
      g.copy_from(y.grad());
      comm->all_reduce(g, ReduceOp::sum);
      accumulate_grad(x, g);
    });
  }
  return y;
}

}  // namespace rsd::comm
