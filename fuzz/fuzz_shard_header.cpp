// The JSON header of a shard (data/shard_header.h): the input is the header text alone. It is
// decoded; a header that decodes must encode and decode back to the same header, and is then
// wrapped into a whole shard (a correct preamble, records of the size its layout implies, filled
// from the input's bytes) that is opened and read record by record (fuzz/shard_checks.h).
#include <cstring>
#include <memory>

#include "engine/crc32c.h"
#include "data/shard_header.h"
#include "fuzz/shard_checks.h"

namespace {

constexpr const char* kTarget = "shard_header";
constexpr int64_t kMaxRecordBytes = int64_t{1} << 20;  // larger shards are not written

bool same_records(const std::vector<rsd::data::RecordMeta>& a, const std::vector<rsd::data::RecordMeta>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const rsd::data::RecordMeta &x = a[i], &y = b[i];
    if (x.id != y.id || x.crc32c != y.crc32c || x.label_names != y.label_names || x.rasters.size() != y.rasters.size())
      return false;
    if (x.class_index >= 0 && x.class_index != y.class_index) return false;
    for (size_t r = 0; r < x.rasters.size(); ++r) {
      const rsd::data::RasterMeta &p = x.rasters[r], &q = y.rasters[r];
      if (p.invalid_count != q.invalid_count || p.source != q.source || p.source_dtype != q.source_dtype ||
          p.geo.crs_wkt != q.geo.crs_wkt || p.geo.has_geotransform != q.geo.has_geotransform)
        return false;
      if (p.geo.has_geotransform && p.geo.geotransform != q.geo.geotransform) return false;
    }
  }
  return true;
}

}  // namespace

RSD_FUZZ_TARGET(shard_header) {
  using namespace rsd;
  const std::string path = fuzz::scratch_dir(kTarget) + "/header.rsd";
  data::ShardHeader h;
  if (!fuzz::expect_clean(kTarget, {path}, [&] {
        h = data::decode_shard_header(reinterpret_cast<const char*>(data), size, path);
      }))
    return;

  // Encoded again, it decodes to the same header.
  data::ShardHeader again;
  try {
    const std::string encoded = data::encode_shard_header(h);
    again = data::decode_shard_header(encoded.data(), encoded.size(), path);
  } catch (const std::exception& e) {
    fuzz::finding(kTarget, str_cat("a decoded header does not encode and decode again: ", e.what()));
  }
  fuzz::require(again.layout == h.layout && again.statistics_json == h.statistics_json &&
                    again.record_bytes == h.record_bytes && same_records(again.records, h.records),
                kTarget, "decode(encode(header)) differs from the header");

  // A whole shard around it.
  const int64_t rb = data::record_layout(h.layout).record_bytes;
  const auto n = static_cast<int64_t>(h.records.size());
  if (rb <= 0 || n > kMaxRecordBytes / rb) return;
  const int64_t data_offset = (data::kShardPreambleBytes + static_cast<int64_t>(size) + data::kShardAlignment - 1) /
                              data::kShardAlignment * data::kShardAlignment;
  std::string file(static_cast<size_t>(data_offset + n * rb), '\0');
  std::memcpy(&file[0], data::kShardMagic, 8);
  std::memcpy(&file[8], &data::kShardVersion, 4);
  const uint32_t crc = crc32c(data, size);
  std::memcpy(&file[12], &crc, 4);
  const uint64_t length = size, offset = static_cast<uint64_t>(data_offset);
  std::memcpy(&file[16], &length, 8);
  std::memcpy(&file[24], &offset, 8);
  if (size > 0) std::memcpy(&file[static_cast<size_t>(data::kShardPreambleBytes)], data, size);
  for (size_t i = static_cast<size_t>(data_offset), k = 0; i < file.size(); ++i, ++k) {
    file[i] = static_cast<char>(size > 0 ? data[k % size] ^ static_cast<uint8_t>(k * 37) : k);
  }
  fuzz::write_file(path, file.data(), file.size());
  std::shared_ptr<const data::ShardDataset> ds;
  if (!fuzz::expect_clean(kTarget, {path}, [&] { ds = std::make_shared<const data::ShardDataset>(path); })) return;
  fuzz::check_shard(kTarget, ds->shard(0), file.size());
  fuzz::expect_clean(kTarget, {path}, [&] { fuzz::read_everything(kTarget, {path}, ds); });
}
