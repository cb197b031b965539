// Collapse monitors of self-supervised training, computed on a batch of embeddings z (N, D):
// - embedding_std: the standard deviation over the batch of each dimension of z / |z|, averaged
//   over dimensions. 0 when every sample maps to one point (complete collapse); about 1/sqrt(D)
//   when the normalized embeddings spread over the sphere (Chen & He 2021, SimSiam).
// - mean_offdiag_cosine: the mean cosine similarity between different samples of the batch. Near
//   1 when they collapse to one direction; near 0 when spread.
#pragma once
#include "engine/tensor.h"

namespace rsd::pretrain {

struct CollapseMonitors {
  double embedding_std = 0;
  double mean_offdiag_cosine = 0;
  double ideal_std = 0;  // 1 / sqrt(D), for reading embedding_std
};

// z on any device and float dtype (copied to the host in double). Needs N >= 2.
CollapseMonitors collapse_monitors(const Tensor& z);

}  // namespace rsd::pretrain
