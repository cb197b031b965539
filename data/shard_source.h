// The loader's source over packed shards (data/shard_dataset.h). view() is zero-copy: it points
// into the memory mapping, so a transform reads the record's float32 (H, W, C) pixels in place.
// read() decodes into the caller's Sample, reusing its buffers (a memcpy of the pixels, the mask
// unpacked only when the record has invalid elements). With verify_records, every record's CRC32C
// is checked as it is read, and a corrupted one is an rsd::Error naming the shard file, the record
// and its id (the default leaves that to `rsd info --verify`, since it reads every byte again).
#pragma once
#include <memory>
#include <string>

#include "data/sample_source.h"
#include "data/shard_dataset.h"

namespace rsd::data {

class ShardSource final : public SampleSource {
 public:
  explicit ShardSource(std::shared_ptr<const ShardDataset> dataset, bool verify_records = false);
  // A dataset.json, a folder holding one, or a single .rsd shard.
  explicit ShardSource(const std::string& path, bool verify_records = false);

  int64_t size() const override { return dataset_->size(); }
  void read(int64_t index, Sample& out) const override;
  bool view(int64_t index, SampleView& out) const override;
  std::string id(int64_t index) const override { return dataset_->meta(index).id; }
  const ShardDataset& dataset() const { return *dataset_; }

 private:
  RecordView record(int64_t index) const;  // checked when verify_records_
  std::shared_ptr<const ShardDataset> dataset_;
  bool verify_records_;
};

}  // namespace rsd::data
