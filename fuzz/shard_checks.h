// What the shard targets (fuzz_shard_file, fuzz_shard_header, fuzz_dataset_json) do with a shard
// or dataset that opened: the invariants the reader promises, then every record read the ways rsd
// reads them (ShardReader, the loader's ShardSource, `rsd info --verify`).
#pragma once
#include <string>
#include <vector>

#include "data/inspect.h"
#include "data/shard.h"
#include "data/shard_source.h"
#include "engine/error.h"
#include "fuzz/fuzz_target.h"

namespace rsd::fuzz {

// The layout and file geometry of an opened shard; `file_size` its size in bytes.
inline void check_shard(const char* target, const data::ShardReader& r, size_t file_size) {
  const data::ShardLayout& layout = r.layout();
  require(!layout.rasters.empty() && layout.rasters.size() <= 3, target,
          str_cat(r.path(), ": opened with ", layout.rasters.size(), " rasters (a record holds 1 to 3)"));
  for (size_t i = 0; i < layout.rasters.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      require(layout.rasters[i].sensor != layout.rasters[j].sensor, target,
              str_cat(r.path(), ": opened with two ", data::sensor_name(layout.rasters[i].sensor), " rasters"));
    }
  }
  const int64_t rb = r.record_bytes();
  require(rb > 0 && rb % data::kShardAlignment == 0 && r.data_offset() % data::kShardAlignment == 0, target,
          str_cat(r.path(), ": record_bytes ", rb, ", data offset ", r.data_offset()));
  require(r.data_offset() + r.size() * rb == static_cast<int64_t>(file_size), target,
          str_cat(r.path(), ": ", r.size(), " records of ", rb, " bytes from byte ", r.data_offset(),
                  " in a file of ", file_size, " bytes"));
  for (int64_t i = 0; i < r.size(); ++i) {
    require(r.meta(i).rasters.size() == layout.rasters.size(), target,
            str_cat(r.path(), ": record ", i, " has ", r.meta(i).rasters.size(), " rasters"));
  }
}

// Reads every record of `ds` through the reader, the loader's source and rsd info --verify.
inline void read_everything(const char* target, const std::vector<std::string>& names,
                            const std::shared_ptr<const data::ShardDataset>& ds) {
  for (int64_t s = 0; s < ds->shard_count(); ++s) {
    const data::ShardReader& r = ds->shard(s);
    for (int64_t i = 0; i < r.size(); ++i) {
      const data::RecordView v = r.record_view(i);
      touch(v.bytes, static_cast<size_t>(v.size));
      const data::Sample sample = r.read_sample(i);
      (void)r.verify(i);
      r.prefetch(i);
      (void)sample;
    }
  }
  const data::ShardSource source(ds, false);
  data::Sample sample;
  data::SampleView view;
  for (int64_t i = 0; i < source.size(); ++i) {
    source.read(i, sample);
    source.view(i, view);
  }
  const data::ShardSource verifying(ds, true);
  expect_clean(target, names, [&] {
    for (int64_t i = 0; i < verifying.size(); ++i) verifying.read(i, sample);
  });
  data::InfoOptions options;
  options.verify = true;
  options.progress = false;
  expect_clean(target, names, [&] { (void)data::describe_path(ds->path(), options); });
}

}  // namespace rsd::fuzz
