#include "data/shard_source.h"

#include <algorithm>
#include <filesystem>

#include "engine/crc32c.h"
#include "engine/error.h"

namespace rsd::data {

namespace {

Raster& raster_for(Sample& s, Sensor sensor) {
  std::optional<Raster>& slot = sensor == Sensor::s1 ? s.s1 : sensor == Sensor::s2 ? s.s2 : s.labels.map;
  if (!slot) slot.emplace();
  return *slot;
}

PixelView pixel_view(const RecordRaster& rv) {
  PixelView v;
  v.pixels = rv.pixels;
  v.valid_bits = rv.mask_bits;
  v.invalid_count = rv.meta->invalid_count;
  v.height = rv.layout->height;
  v.width = rv.layout->width;
  v.channels = rv.layout->channels();
  v.bands = &rv.layout->bands;
  return v;
}

}  // namespace

ShardSource::ShardSource(std::shared_ptr<const ShardDataset> dataset, bool verify_records)
    : dataset_(std::move(dataset)), verify_records_(verify_records) {
  RSD_CHECK(dataset_ != nullptr, "ShardSource: no dataset");
}

ShardSource::ShardSource(const std::string& path, bool verify_records)
    : ShardSource(std::make_shared<const ShardDataset>(path), verify_records) {}

RecordView ShardSource::record(int64_t index) const {
  const RecordView v = dataset_->record_view(index);
  if (verify_records_ && crc32c(v.bytes, static_cast<size_t>(v.size)) != v.meta->crc32c) {
    const ShardDataset::Location at = dataset_->locate(index);
    // `rsd info --verify` takes the dataset's folder (or the single shard).
    const std::filesystem::path p(dataset_->path());
    const std::string dataset = p.filename() == kDatasetIndexName ? p.parent_path().string() : p.string();
    fail("corrupted shard record: ", dataset_->shard(at.shard).path(), " record ", at.index, " (sample '", v.meta->id,
         "', dataset index ", index, ") does not match the CRC32C stored in its shard header: the file was damaged "
         "on disk or in a copy, and the record is not used. Run `rsd info --verify ", dataset,
         "` to list every damaged record, then pack the source again with `rsd pack` (or copy the shard again "
         "from a good copy)");
  }
  return v;
}

void ShardSource::read(int64_t index, Sample& out) const {
  const RecordView v = record(index);
  out.id = v.meta->id;
  out.labels.names = v.meta->label_names;
  out.labels.class_index = v.meta->class_index;
  const ShardLayout& layout = dataset_->layout();
  if (!layout.find(Sensor::s1)) out.s1.reset();
  if (!layout.find(Sensor::s2)) out.s2.reset();
  if (!layout.find(Sensor::label)) out.labels.map.reset();
  for (int r = 0; r < v.raster_count; ++r) {
    const RecordRaster& rv = v.rasters[static_cast<size_t>(r)];
    decode_raster(rv, raster_for(out, rv.layout->sensor));
  }
}

bool ShardSource::view(int64_t index, SampleView& out) const {
  const RecordView v = record(index);
  out = SampleView{};
  out.id = v.meta->id;
  out.class_index = v.meta->class_index;
  for (int r = 0; r < v.raster_count; ++r) {
    const RecordRaster& rv = v.rasters[static_cast<size_t>(r)];
    const Sensor sensor = rv.layout->sensor;
    (sensor == Sensor::s1 ? out.s1 : sensor == Sensor::s2 ? out.s2 : out.label_map) = pixel_view(rv);
  }
  return true;
}

}  // namespace rsd::data
