// Collectives as autograd ops: what the distributed losses need (InfoNCE against the whole global
// batch gathers the other ranks' projections and returns their gradients to them).
//
//   Tensor all_z = comm::all_gather_rows(z, comm);   // (n, D) -> (world n, D), rank-major
//   Tensor total = comm::all_reduce_sum(x, comm);    // the same sum on every rank
//
// The gradients are those of the sum of every rank's loss: rank r's input x_r feeds every rank's
// output, so its gradient collects the output gradients of all ranks. The backward closures call
// collectives, so every rank must run backward over the same ops in the same order, and use each
// output in its loss (a rank whose output gets no gradient skips the collective and the others
// wait for it until the timeout).
#pragma once
#include "engine/comm/communicator.h"

namespace rsd::comm {

// x: (n, ...) on every rank -> (world n, ...), rank r's rows at [r n, (r + 1) n).
// Backward: x's gradient += reduce_scatter(sum) of the output gradient (rank r gets the sum over
// ranks of block r).
Tensor all_gather_rows(const Tensor& x, Communicator& c);

// A new tensor holding the sum over ranks of x (same shape on every rank).
// Backward: x's gradient += all_reduce(sum) of the output gradient.
Tensor all_reduce_sum(const Tensor& x, Communicator& c);

}  // namespace rsd::comm
