// The loader's source over packed shards (data/shard_dataset.h). view() is zero-copy: it points
// into the memory mapping, so a transform reads the record's float32 (H, W, C) pixels in place.
// read() decodes into the caller's Sample, reusing its buffers (a memcpy of the pixels, the mask
// unpacked only when the record has invalid elements).
//
// Every record's CRC32C is checked as it is read (verify_records, the default for every reader of
// shard records: the training loader, `rsd embed` on shards), so a damaged record is never trained
// on or embedded: it is an rsd::Error naming the shard file, the record, its sample id, and what to
// do (`rsd info --verify` lists every damaged record; repack). The check reads each record's bytes
// once more, from the page cache, in the loader's worker threads (SSE4.2 CRC32C, engine/crc32c.h;
// benchmarks/loader_bench --verify both measures it). verify_records = false is for tools that
// verify on their own (`rsd info --verify`) or want to see a damaged record's bytes.
#pragma once
#include <memory>
#include <string>

#include "data/sample_source.h"
#include "data/shard_dataset.h"

namespace rsd::data {

class ShardSource final : public SampleSource {
 public:
  explicit ShardSource(std::shared_ptr<const ShardDataset> dataset, bool verify_records = true);
  // A dataset.json, a folder holding one, or a single .rsd shard.
  explicit ShardSource(const std::string& path, bool verify_records = true);

  int64_t size() const override { return dataset_->size(); }
  void read(int64_t index, Sample& out) const override;
  bool view(int64_t index, SampleView& out) const override;
  std::string id(int64_t index) const override { return dataset_->meta(index).id; }
  const ShardDataset& dataset() const { return *dataset_; }

 private:
  RecordView record(int64_t index) const;  // CRC32C checked when verify_records_
  std::shared_ptr<const ShardDataset> dataset_;
  bool verify_records_;
};

}  // namespace rsd::data
