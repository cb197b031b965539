// The order a loader visits a dataset in, as pure functions of (seed, epoch): epoch e's order is a
// Fisher-Yates shuffle driven by Philox4x32-10 (kernels/philox.h) keyed by the seed, with the epoch
// and position in the counter, so it is reproducible on any machine, new every epoch, and never
// depends on threads or timing. Distributed training splits each epoch's order between ranks:
// rank r of W takes positions r, r + W, r + 2W, ... (interleaved), so the ranks' shares are disjoint
// and every rank sees the same number of samples:
//   - drop (default): each rank takes floor(n / W) samples; the n mod W samples at the end of the
//     epoch's permutation are left out of this epoch (different ones each epoch when shuffling);
//   - pad: each rank takes ceil(n / W); the missing positions wrap to the start of the permutation,
//     so a few samples are seen twice in the epoch (PyTorch's DistributedSampler does the same).
#pragma once
#include <cstdint>
#include <vector>

namespace rsd::data {

// A permutation of [0, n): shuffled for (seed, epoch), or the identity when shuffle is false.
std::vector<int64_t> epoch_permutation(int64_t n, uint64_t seed, int64_t epoch, bool shuffle = true);

enum class Remainder { drop, pad };

struct RankSplit {
  int rank = 0;
  int world_size = 1;
  Remainder remainder = Remainder::drop;
};

// How many samples each rank takes per epoch from a dataset of n.
int64_t samples_per_rank(int64_t n, const RankSplit& split);

// Rank split.rank's dataset indices for the epoch, in visiting order (samples_per_rank of them).
std::vector<int64_t> rank_indices(int64_t n, uint64_t seed, int64_t epoch, bool shuffle, const RankSplit& split);

// The seed a transform gets for one sample in one epoch: augmentations differ every epoch and
// are the same whichever worker thread draws them.
uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t index);

}  // namespace rsd::data
