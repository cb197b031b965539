// The symmetric InfoNCE of a contrastive method over the global batch of a data-parallel job.
//
// za, zb: (n, D), this rank's projections of the two views (row i of za and row i of zb are one
// place); tau: {1}. With one process (comm null or the "single" backend) this is info_nce_loss(za, zb,
// tau). With W ranks, every rank gathers both projections of every rank (all_gather_rows:
// (W n, D), rank-major, so this rank's rows start at offset = rank x n) and computes
//   L_rank = ( InfoNCE_rows(za, zb_all, offset) + InfoNCE_rows(zb, za_all, offset) ) / 2,
// its own rows against all W n columns in each direction (engine/ops/info_nce.h says why the
// column direction of one call is not enough). The mean of L_rank over ranks is the one-process
// loss of the combined batch, and since the gathered columns' gradients go back to their owners
// by reduce-scatter (the backward of all_gather_rows) and the trainer averages the parameter
// gradients over ranks, the gradients are that loss's gradients too (tested under mpirun in
// tests/mpi/).
#pragma once
#include "engine/tensor.h"

namespace rsd::comm {
class Communicator;
}

namespace rsd::models {

Tensor contrastive_loss(const Tensor& za, const Tensor& zb, const Tensor& tau, comm::Communicator* comm);

}  // namespace rsd::models
