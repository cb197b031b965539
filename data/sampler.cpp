#include "data/sampler.h"

#include <numeric>

#include "engine/error.h"
#include "kernels/philox.h"

namespace rsd::data {

namespace {

// Philox counter words: (position lo, position hi, epoch, stream tag). The tag keeps the shuffle's
// draws apart from the per-sample seeds.
constexpr uint32_t kShuffleTag = 0x5348554Fu;  // "SHUF"
constexpr uint32_t kSampleTag = 0x53414D50u;   // "SAMP"

uint64_t draw64(uint64_t seed, uint64_t position, int64_t epoch, uint32_t tag) {
  const kernels::Philox4 ctr{{static_cast<uint32_t>(position), static_cast<uint32_t>(position >> 32),
                              static_cast<uint32_t>(static_cast<uint64_t>(epoch)), tag}};
  const kernels::Philox4 r = kernels::philox4x32_10(ctr, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  return (static_cast<uint64_t>(r.v[0]) << 32) | r.v[1];
}

// A uniform integer in [0, bound) from 64 random bits (Lemire's multiply-shift; the bias is below
// bound / 2^64, far under anything a shuffle of a dataset can show).
uint64_t below(uint64_t bits, uint64_t bound) {
  __extension__ using u128 = unsigned __int128;
  return static_cast<uint64_t>((static_cast<u128>(bits) * bound) >> 64);
}

}  // namespace

std::vector<int64_t> epoch_permutation(int64_t n, uint64_t seed, int64_t epoch, bool shuffle) {
  RSD_CHECK(n >= 0, "epoch_permutation: negative dataset size ", n);
  RSD_CHECK(epoch >= 0, "epoch_permutation: negative epoch ", epoch);
  std::vector<int64_t> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), int64_t{0});
  if (!shuffle) return p;
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t j = static_cast<int64_t>(below(draw64(seed, static_cast<uint64_t>(i), epoch, kShuffleTag),
                                                 static_cast<uint64_t>(i + 1)));
    std::swap(p[static_cast<size_t>(i)], p[static_cast<size_t>(j)]);
  }
  return p;
}

int64_t samples_per_rank(int64_t n, const RankSplit& split) {
  RSD_CHECK(split.world_size >= 1, "rank split: world size must be at least 1, got ", split.world_size);
  RSD_CHECK(split.rank >= 0 && split.rank < split.world_size, "rank split: rank ", split.rank,
            " is outside [0, ", split.world_size, ")");
  const int64_t w = split.world_size;
  return split.remainder == Remainder::drop ? n / w : (n + w - 1) / w;
}

std::vector<int64_t> rank_indices(int64_t n, uint64_t seed, int64_t epoch, bool shuffle, const RankSplit& split) {
  const int64_t per_rank = samples_per_rank(n, split);
  const std::vector<int64_t> perm = epoch_permutation(n, seed, epoch, shuffle);
  std::vector<int64_t> out(static_cast<size_t>(per_rank));
  for (int64_t k = 0; k < per_rank; ++k) {
    const int64_t position = split.rank + k * split.world_size;  // < n, or wraps when padding
    out[static_cast<size_t>(k)] = perm[static_cast<size_t>(position % n)];
  }
  return out;
}

uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t index) {
  return draw64(seed, static_cast<uint64_t>(index), epoch, kSampleTag);
}

}  // namespace rsd::data
