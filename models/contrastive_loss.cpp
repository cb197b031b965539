#include "models/contrastive_loss.h"

#include "engine/comm/collective_ops.h"
#include "engine/comm/communicator.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/info_nce.h"

namespace rsd::models {

Tensor contrastive_loss(const Tensor& za, const Tensor& zb, const Tensor& tau, comm::Communicator* comm) {
  if (comm == nullptr || comm->backend() == "single") return info_nce_loss(za, zb, tau);
  const Tensor za_all = comm::all_gather_rows(za, *comm);  // (W n, D)
  const Tensor zb_all = comm::all_gather_rows(zb, *comm);
  const int64_t offset = static_cast<int64_t>(comm->rank()) * za.dim(0);
  InfoNceOptions rows_only;
  rows_only.symmetric = false;
  const Tensor a_to_b = info_nce_loss(za, zb_all, tau, offset, rows_only);
  const Tensor b_to_a = info_nce_loss(zb, za_all, tau, offset, rows_only);
  return scale(add(a_to_b, b_to_a), 0.5);
}

}  // namespace rsd::models
