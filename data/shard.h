// Shards: the packed, memory-mappable form of a dataset (docs/shard-format.md is the reference).
// One file holds a 32-byte preamble (magic, version, header checksum, header length, data offset),
// a JSON header (layout, statistics, per-record id, georeferencing, labels and CRC32C) and then
// fixed-size little-endian records, record i at data_offset + i * record_bytes, every record and
// every section inside it 64-byte aligned. A record holds, for each raster of the layout in order,
// the float32 pixels (H, W, C) and the bit-packed validity mask.
#pragma once
#include <array>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "data/mapped_file.h"
#include "data/sample.h"

namespace rsd::data {

constexpr char kShardMagic[9] = "RSDSHARD";  // the first 8 bytes of every shard
constexpr uint32_t kShardVersion = 1;        // bumped on any change old readers cannot read
constexpr int64_t kShardPreambleBytes = 32;
constexpr int64_t kShardAlignment = 64;      // data offset, record size and every section

// Which raster of a Sample a layout entry stores: Sample::s1, Sample::s2 or Sample::labels.map.
enum class Sensor { s1, s2, label };
const char* sensor_name(Sensor sensor);  // "s1", "s2", "label"

// One stored raster: every record holds it with exactly these bands and size.
struct RasterLayout {
  Sensor sensor = Sensor::s2;
  std::vector<std::string> bands;
  int64_t height = 0, width = 0;

  int64_t channels() const { return static_cast<int64_t>(bands.size()); }
  int64_t elements() const { return height * width * channels(); }  // H * W * C
  bool operator==(const RasterLayout& o) const {
    return sensor == o.sensor && bands == o.bands && height == o.height && width == o.width;
  }
};

// What every record of a shard (or dataset) holds, and the dataset-level facts beside it.
struct ShardLayout {
  std::string name;                      // the source layout: "sen12ms", "eurosat-ms", "synthetic", ...
  std::vector<RasterLayout> rasters;     // record order; at most one per sensor
  std::vector<std::string> class_names;  // the layout's class list, which class_index indexes
  bool synthetic = false;                // random data made for benchmarks, never real imagery

  const RasterLayout* find(Sensor sensor) const;
  bool operator==(const ShardLayout& o) const {
    return name == o.name && rasters == o.rasters && class_names == o.class_names && synthetic == o.synthetic;
  }
  bool operator!=(const ShardLayout& o) const { return !(*this == o); }
};

// The layout holding exactly the rasters `sample` has (s1, s2, then the label map), named `name`.
ShardLayout layout_of(const Sample& sample, std::string name);

// Throws rsd::Error naming the sample id when `sample` does not fit `layout` (a missing or extra
// raster, other bands or band order, another size, pixel or mask vectors of the wrong length, an
// invalid_count that disagrees with the mask, a non-finite geotransform).
void check_sample_fits(const Sample& sample, const ShardLayout& layout);

// Bytes `records` samples like `sample` (which fits `layout`) take as shards of `per_shard` records:
// the records, the headers (this sample's metadata standing for every record's, plus room for the
// statistics) and the preambles. For checking the free space before a write.
int64_t estimated_dataset_bytes(const Sample& sample, const ShardLayout& layout, int64_t records, int64_t per_shard);

// Byte offsets of one raster's sections inside a record.
struct RasterSections {
  int64_t pixels_offset = 0, pixels_bytes = 0;  // float32 (H, W, C)
  int64_t mask_offset = 0, mask_bytes = 0;      // ceil(H * W * C / 8) bytes, padded
};
struct RecordLayout {
  std::vector<RasterSections> sections;  // one per layout raster
  int64_t record_bytes = 0;              // a multiple of kShardAlignment
};
RecordLayout record_layout(const ShardLayout& layout);

// Everything of one sample's raster that is not pixels or mask (kept in the header).
struct RasterMeta {
  GeoInfo geo;
  int64_t invalid_count = 0;
  std::string source, source_dtype;
};

// Everything of one sample that is not pixels or masks, and the record's checksum.
struct RecordMeta {
  std::string id;
  std::vector<RasterMeta> rasters;       // one per layout raster, in layout order
  std::vector<std::string> label_names;  // Labels::names
  int32_t class_index = -1;              // Labels::class_index
  uint32_t crc32c = 0;                   // of the record's record_bytes bytes, padding included
};

// Zero-copy view of one raster of a record, pointing into the mapping.
struct RecordRaster {
  const RasterLayout* layout = nullptr;
  const RasterMeta* meta = nullptr;
  const float* pixels = nullptr;        // (H, W, C), 64-byte aligned
  const uint8_t* mask_bits = nullptr;   // element e = (y * W + x) * C + c is bit (e % 8) of byte e / 8

  bool valid(int64_t element) const { return ((mask_bits[element >> 3] >> (element & 7)) & 1u) != 0; }
};

struct RecordView {
  int64_t index = 0;                    // within its shard
  const RecordMeta* meta = nullptr;
  const uint8_t* bytes = nullptr;       // the whole record, record_bytes long
  int64_t size = 0;
  std::array<RecordRaster, 3> rasters{};  // the first raster_count are used, layout order
  int raster_count = 0;

  const RecordRaster* find(Sensor sensor) const;  // nullptr when the layout has no such raster
};

// Bit-packed mask (LSB first) -> one byte per element (0 or 1); n elements.
void unpack_mask(const uint8_t* bits, int64_t n, uint8_t* out);

// Copies one raster of a record (pixels, unpacked mask, georeferencing, source) into `out`,
// reusing the capacity of its vectors.
void decode_raster(const RecordRaster& rv, Raster& out);

// Writes one shard. Records go to "<path>.records.tmp.<pid>" as they are appended; finish() writes
// preamble, header and records to "<path>.tmp.<pid>", flushes it to disk and renames it to the
// path. Destruction without finish() (an exception, an interrupted pack) removes both temporary
// files, so no half-written shard is ever left under the final name.
class ShardWriter {
 public:
  ShardWriter(std::string path, ShardLayout layout);
  ~ShardWriter();
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  // Appends one record; throws (naming the sample id) when the sample does not fit the layout.
  void append(const Sample& sample);
  int64_t size() const { return static_cast<int64_t>(records_.size()); }
  const ShardLayout& layout() const { return layout_; }
  const std::string& path() const { return path_; }

  // Per-band statistics, stored as given (JSON text; "" stores null). Set before finish().
  void set_statistics(std::string json);
  // The final name, when it is only known later (a dataset names shards "-of-N" at the end).
  void set_path(std::string path);
  // Closes the records file until the next append, so a dataset writer does not hold one open
  // file per finished shard.
  void close_records();
  void finish();
  bool finished() const { return finished_; }

 private:
  void open_records();
  void remove_temporaries() noexcept;

  std::string path_;
  ShardLayout layout_;
  RecordLayout record_layout_;
  std::string statistics_json_;
  std::string records_path_;  // the temporary file of appended records
  std::FILE* records_file_ = nullptr;
  std::vector<RecordMeta> records_;
  std::vector<uint8_t> buffer_;  // one record, reused
  bool finished_ = false;
};

// Reads one shard through a read-only memory mapping. Opening validates the preamble, header
// checksum, header and file size (rsd::Error naming the file and what is wrong); record checksums
// are checked by verify(), not by record_view() or read_sample(): what reads records for training
// or embedding goes through data/shard_source.h, which verifies each record it reads. All const
// members are safe to call from several threads at once.
class ShardReader {
 public:
  explicit ShardReader(const std::string& path);

  const std::string& path() const { return file_.path(); }
  int64_t size() const { return static_cast<int64_t>(records_.size()); }
  const ShardLayout& layout() const { return layout_; }
  const std::string& statistics_json() const { return statistics_json_; }  // "null" when none
  int64_t record_bytes() const { return record_layout_.record_bytes; }
  int64_t data_offset() const { return data_offset_; }
  uint32_t version() const { return version_; }
  const RecordMeta& meta(int64_t i) const;

  RecordView record_view(int64_t i) const;
  Sample read_sample(int64_t i) const;
  bool verify(int64_t i) const;         // the record's CRC32C matches the header's
  std::vector<int64_t> verify_all() const;  // indices of corrupted records, ascending
  void prefetch(int64_t i) const;       // hints the kernel to read record i ahead

 private:
  void check_index(int64_t i) const;

  MappedFile file_;
  uint32_t version_ = 0;
  int64_t data_offset_ = 0;
  ShardLayout layout_;
  RecordLayout record_layout_;
  std::string statistics_json_;
  std::vector<RecordMeta> records_;
};

}  // namespace rsd::data
