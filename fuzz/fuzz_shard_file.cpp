// Whole shard files (data/shard.h, docs/shard-format.md): preamble, JSON header and records. The
// header's CRC32C in the preamble is recomputed from the input before it is written (when the
// stated header length fits the input), so that mutations of the header reach the JSON parser
// instead of stopping at the checksum; every other byte is the input's. A shard that opens is
// checked (fuzz/shard_checks.h) and read record by record.
#include <cstring>
#include <memory>

#include "engine/crc32c.h"
#include "fuzz/shard_checks.h"

namespace {

constexpr const char* kTarget = "shard_file";

}  // namespace

RSD_FUZZ_TARGET(shard_file) {
  using namespace rsd;
  std::string bytes(reinterpret_cast<const char*>(data), size);
  if (size >= static_cast<size_t>(data::kShardPreambleBytes)) {
    uint64_t header_length = 0;
    std::memcpy(&header_length, bytes.data() + 16, 8);
    if (header_length <= size - data::kShardPreambleBytes) {
      const uint32_t crc = crc32c(bytes.data() + data::kShardPreambleBytes, header_length);
      std::memcpy(&bytes[12], &crc, 4);
    }
  }
  const std::string path = fuzz::input_file(kTarget, "input.rsd", reinterpret_cast<const uint8_t*>(bytes.data()),
                                            bytes.size());
  std::shared_ptr<const data::ShardDataset> ds;
  if (!fuzz::expect_clean(kTarget, {path}, [&] { ds = std::make_shared<const data::ShardDataset>(path); })) return;
  const data::ShardReader& r = ds->shard(0);
  fuzz::check_shard(kTarget, r, size);
  uint64_t header_length = 0;
  std::memcpy(&header_length, bytes.data() + 16, 8);
  fuzz::require(static_cast<uint64_t>(r.data_offset()) >= data::kShardPreambleBytes + header_length, kTarget,
                str_cat("opened a shard whose records (from byte ", r.data_offset(), ") overlap its preamble and ",
                        header_length, "-byte header"));
  fuzz::expect_clean(kTarget, {path}, [&] { fuzz::read_everything(kTarget, {path}, ds); });
}
