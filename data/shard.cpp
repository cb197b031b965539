#include "data/shard.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <utility>

#include "engine/crc32c.h"
#include "data/shard_header.h"
#include "engine/error.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "rsd shards are little-endian and read in place; a big-endian host would need byte swapping");

namespace rsd::data {
namespace {

int64_t align_up(int64_t n) { return (n + kShardAlignment - 1) / kShardAlignment * kShardAlignment; }

constexpr Sensor kSensors[] = {Sensor::s1, Sensor::s2, Sensor::label};

const Raster* raster_of(const Sample& s, Sensor sensor) {
  switch (sensor) {
    case Sensor::s1: return s.s1 ? &*s.s1 : nullptr;
    case Sensor::s2: return s.s2 ? &*s.s2 : nullptr;
    case Sensor::label: return s.labels.map ? &*s.labels.map : nullptr;
  }
  return nullptr;
}

Raster& emplace_raster(Sample& s, Sensor sensor) {
  switch (sensor) {
    case Sensor::s1: return s.s1.emplace();
    case Sensor::s2: return s.s2.emplace();
    case Sensor::label: break;
  }
  return s.labels.map.emplace();
}

std::string join(const std::vector<std::string>& names) {
  std::string out = "[";
  for (size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + names[i];
  return out + "]";
}

void check_raster_fits(const Raster& r, const RasterLayout& l, const std::string& where) {
  const char* name = sensor_name(l.sensor);
  RSD_CHECK(r.bands == l.bands, where, name, " bands ", join(r.bands), " differ from the layout's ", join(l.bands));
  RSD_CHECK(r.height == l.height && r.width == l.width, where, name, " is ", r.height, "x", r.width,
            ", the layout's ", l.height, "x", l.width);
  const size_t n = static_cast<size_t>(l.elements());
  RSD_CHECK(r.pixels.size() == n, where, name, " holds ", r.pixels.size(), " pixels, ", l.height, "x", l.width, "x",
            l.channels(), " = ", n, " expected");
  RSD_CHECK(r.valid.size() == n, where, name, " has a validity mask of ", r.valid.size(), " entries, ", n,
            " expected");
  const auto zeros = static_cast<int64_t>(std::count(r.valid.begin(), r.valid.end(), uint8_t{0}));
  RSD_CHECK(zeros == r.invalid_count, where, name, " says ", r.invalid_count, " invalid values but its mask has ",
            zeros);
  if (r.geo.has_geotransform) {
    for (double g : r.geo.geotransform)
      RSD_CHECK(std::isfinite(g), where, name, " has a non-finite geotransform");
  }
}

// Packs `valid` (one byte per element) into bits, LSB first; the last byte's unused bits stay 0.
void pack_mask(const std::vector<uint8_t>& valid, uint8_t* out) {
  const size_t n = valid.size();
  size_t e = 0;
  for (; e + 8 <= n; e += 8) {
    unsigned byte = 0;
    for (unsigned k = 0; k < 8; ++k) byte |= (valid[e + k] != 0 ? 1u : 0u) << k;
    out[e / 8] = static_cast<uint8_t>(byte);
  }
  if (e < n) {
    unsigned byte = 0;
    for (unsigned k = 0; e + k < n; ++k) byte |= (valid[e + k] != 0 ? 1u : 0u) << k;
    out[e / 8] = static_cast<uint8_t>(byte);
  }
}

uint32_t read_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

uint64_t read_u64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

void write_all(int fd, const void* data, size_t n, const std::string& file) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    RSD_CHECK(w > 0, "cannot write ", file, ": ", std::strerror(errno));
    p += w;
    n -= static_cast<size_t>(w);
  }
}

// Appends the whole of `from` to `fd` (the kernel copies when it can, else read/write).
void append_file(int fd, const std::string& from, const std::string& file) {
  const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  RSD_CHECK(in >= 0, "cannot read ", from, " back: ", std::strerror(errno));
  bool kernel_copy = true;
  std::vector<char> buffer;
  for (;;) {
    ssize_t n = -1;
    if (kernel_copy) {
      n = ::copy_file_range(in, nullptr, fd, nullptr, size_t{1} << 30, 0);
      if (n < 0 && (errno == ENOSYS || errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP)) {
        kernel_copy = false;
        buffer.resize(size_t{1} << 20);
        continue;
      }
    } else {
      n = ::read(in, buffer.data(), buffer.size());
      if (n > 0) write_all(fd, buffer.data(), static_cast<size_t>(n), file);
    }
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int e = errno;
      ::close(in);
      RSD_CHECK(n == 0, "cannot copy records into ", file, ": ", std::strerror(e));
      return;
    }
  }
}

std::string preamble(uint32_t header_crc, uint64_t header_length, uint64_t data_offset) {
  std::string p(kShardPreambleBytes, '\0');
  std::memcpy(&p[0], kShardMagic, 8);
  std::memcpy(&p[8], &kShardVersion, 4);
  std::memcpy(&p[12], &header_crc, 4);
  std::memcpy(&p[16], &header_length, 8);
  std::memcpy(&p[24], &data_offset, 8);
  return p;
}

}  // namespace

const char* sensor_name(Sensor sensor) {
  switch (sensor) {
    case Sensor::s1: return "s1";
    case Sensor::s2: return "s2";
    case Sensor::label: return "label";
  }
  return "?";
}

const RasterLayout* ShardLayout::find(Sensor sensor) const {
  for (const RasterLayout& r : rasters)
    if (r.sensor == sensor) return &r;
  return nullptr;
}

const RecordRaster* RecordView::find(Sensor sensor) const {
  for (int r = 0; r < raster_count; ++r)
    if (rasters[static_cast<size_t>(r)].layout->sensor == sensor) return &rasters[static_cast<size_t>(r)];
  return nullptr;
}

ShardLayout layout_of(const Sample& sample, std::string name) {
  ShardLayout layout;
  layout.name = std::move(name);
  for (Sensor s : kSensors) {
    if (const Raster* r = raster_of(sample, s)) layout.rasters.push_back({s, r->bands, r->height, r->width});
  }
  RSD_CHECK(!layout.rasters.empty(), "sample \"", sample.id, "\" has no raster to store (no s1, s2 or label map)");
  return layout;
}

void check_sample_fits(const Sample& sample, const ShardLayout& layout) {
  const std::string where = str_cat("sample \"", sample.id, "\" does not fit the shard layout \"", layout.name, "\": ");
  for (Sensor s : kSensors) {
    const Raster* r = raster_of(sample, s);
    const RasterLayout* l = layout.find(s);
    RSD_CHECK((r != nullptr) == (l != nullptr), where, "it has ", r ? "an " : "no ", sensor_name(s),
              " raster but the layout has ", l ? "one" : "none");
    if (r != nullptr) check_raster_fits(*r, *l, where + (r->source.empty() ? "" : "(" + r->source + ") "));
  }
}

RecordLayout record_layout(const ShardLayout& layout) {
  RecordLayout rl;
  int64_t offset = 0;
  for (const RasterLayout& r : layout.rasters) {
    RasterSections s;
    s.pixels_offset = offset;
    s.pixels_bytes = align_up(r.elements() * static_cast<int64_t>(sizeof(float)));
    s.mask_offset = s.pixels_offset + s.pixels_bytes;
    s.mask_bytes = align_up((r.elements() + 7) / 8);
    offset = s.mask_offset + s.mask_bytes;
    rl.sections.push_back(s);
  }
  rl.record_bytes = offset;
  return rl;
}

int64_t estimated_dataset_bytes(const Sample& sample, const ShardLayout& layout, int64_t records, int64_t per_shard) {
  RSD_CHECK(records >= 0 && per_shard > 0, "estimated_dataset_bytes: ", records, " records, ", per_shard, " per shard");
  ShardHeader header;
  header.layout = layout;
  header.record_bytes = record_layout(layout).record_bytes;
  const auto empty_header = static_cast<int64_t>(encode_shard_header(header).size());
  RecordMeta meta;
  meta.id = sample.id;
  meta.label_names = sample.labels.names;
  meta.class_index = sample.labels.class_index;
  for (const RasterLayout& l : layout.rasters) {
    const Raster* r = raster_of(sample, l.sensor);
    meta.rasters.push_back(r ? RasterMeta{r->geo, r->invalid_count, r->source, r->source_dtype} : RasterMeta{});
  }
  header.records.push_back(std::move(meta));
  const int64_t per_record = static_cast<int64_t>(encode_shard_header(header).size()) - empty_header;
  const int64_t shards = (records + per_shard - 1) / per_shard;
  constexpr int64_t kStatisticsRoom = 16 << 10;  // per-band statistics in every header
  return records * (header.record_bytes + per_record) +
         shards * (kShardPreambleBytes + empty_header + kStatisticsRoom + kShardAlignment);
}

void unpack_mask(const uint8_t* bits, int64_t n, uint8_t* out) {
  for (int64_t e = 0; e < n; ++e) out[e] = static_cast<uint8_t>((bits[e >> 3] >> (e & 7)) & 1u);
}

void decode_raster(const RecordRaster& rv, Raster& out) {
  const RasterLayout& l = *rv.layout;
  const auto n = static_cast<size_t>(l.elements());
  out.bands = l.bands;
  out.height = l.height;
  out.width = l.width;
  out.pixels.assign(rv.pixels, rv.pixels + n);
  out.valid.resize(n);
  if (rv.meta->invalid_count == 0) {
    std::fill(out.valid.begin(), out.valid.end(), uint8_t{1});
  } else {
    unpack_mask(rv.mask_bits, static_cast<int64_t>(n), out.valid.data());
  }
  out.invalid_count = rv.meta->invalid_count;
  out.geo = rv.meta->geo;
  out.source = rv.meta->source;
  out.source_dtype = rv.meta->source_dtype;
}

// ---- writer ----

ShardWriter::ShardWriter(std::string path, ShardLayout layout)
    : path_(std::move(path)), layout_(std::move(layout)), statistics_json_("null") {
  RSD_CHECK(!layout_.rasters.empty(), "shard ", path_, ": the layout \"", layout_.name, "\" has no rasters");
  for (size_t i = 0; i < layout_.rasters.size(); ++i) {
    const RasterLayout& r = layout_.rasters[i];
    RSD_CHECK(r.height > 0 && r.width > 0 && !r.bands.empty(), "shard ", path_, ": ", sensor_name(r.sensor),
              " raster of ", r.height, "x", r.width, " with ", r.bands.size(), " bands");
    for (size_t j = 0; j < i; ++j)
      RSD_CHECK(layout_.rasters[j].sensor != r.sensor, "shard ", path_, ": the layout holds two ",
                sensor_name(r.sensor), " rasters");
  }
  record_layout_ = record_layout(layout_);
  buffer_.assign(static_cast<size_t>(record_layout_.record_bytes), 0);
  records_path_ = str_cat(path_, ".records.tmp.", ::getpid());
  records_file_ = std::fopen(records_path_.c_str(), "wb");
  RSD_CHECK(records_file_ != nullptr, "cannot write shard ", path_, ": ", std::strerror(errno));
}

ShardWriter::~ShardWriter() {
  if (!finished_) remove_temporaries();
}

void ShardWriter::remove_temporaries() noexcept {
  if (records_file_ != nullptr) std::fclose(records_file_);
  records_file_ = nullptr;
  std::remove(records_path_.c_str());
  std::remove(str_cat(path_, ".tmp.", ::getpid()).c_str());
}

void ShardWriter::open_records() {
  if (records_file_ != nullptr) return;
  records_file_ = std::fopen(records_path_.c_str(), "ab");
  RSD_CHECK(records_file_ != nullptr, "cannot reopen ", records_path_, ": ", std::strerror(errno));
}

void ShardWriter::close_records() {
  if (records_file_ == nullptr) return;
  const bool ok = std::fflush(records_file_) == 0;
  const int e = errno;
  std::fclose(records_file_);
  records_file_ = nullptr;
  RSD_CHECK(ok, "cannot write shard ", path_, ": ", std::strerror(e));
}

void ShardWriter::append(const Sample& sample) {
  RSD_CHECK(!finished_, "shard ", path_, " is finished; cannot append sample \"", sample.id, "\"");
  check_sample_fits(sample, layout_);
  RecordMeta meta;
  meta.id = sample.id;
  meta.label_names = sample.labels.names;
  meta.class_index = sample.labels.class_index;
  for (size_t i = 0; i < layout_.rasters.size(); ++i) {
    const Raster& r = *raster_of(sample, layout_.rasters[i].sensor);
    const RasterSections& s = record_layout_.sections[i];
    std::memcpy(buffer_.data() + s.pixels_offset, r.pixels.data(), r.pixels.size() * sizeof(float));
    pack_mask(r.valid, buffer_.data() + s.mask_offset);
    meta.rasters.push_back({r.geo, r.invalid_count, r.source, r.source_dtype});
  }
  meta.crc32c = crc32c(buffer_.data(), buffer_.size());
  open_records();
  RSD_CHECK(std::fwrite(buffer_.data(), 1, buffer_.size(), records_file_) == buffer_.size(), "cannot write shard ",
            path_, " (sample \"", sample.id, "\"): ", std::strerror(errno));
  records_.push_back(std::move(meta));
}

void ShardWriter::set_statistics(std::string json) {
  statistics_json_ = canonical_json(json, "the statistics of shard " + path_);
}

void ShardWriter::set_path(std::string path) {
  RSD_CHECK(!finished_, "shard ", path_, " is finished; cannot rename it to ", path);
  path_ = std::move(path);
}

void ShardWriter::finish() {
  RSD_CHECK(!finished_, "shard ", path_, " is already finished");
  close_records();
  ShardHeader header;
  header.layout = layout_;
  header.statistics_json = statistics_json_;
  header.record_bytes = record_layout_.record_bytes;
  header.records = records_;
  const std::string text = encode_shard_header(header);
  const auto data_offset = static_cast<uint64_t>(align_up(kShardPreambleBytes + static_cast<int64_t>(text.size())));
  std::string head = preamble(crc32c(text.data(), text.size()), text.size(), data_offset) + text;
  head.resize(data_offset, '\0');

  const std::string tmp = str_cat(path_, ".tmp.", ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  RSD_CHECK(fd >= 0, "cannot write shard ", path_, ": ", std::strerror(errno));
  try {
    write_all(fd, head.data(), head.size(), tmp);
    append_file(fd, records_path_, tmp);
    RSD_CHECK(::fsync(fd) == 0, "cannot flush ", tmp, ": ", std::strerror(errno));
  } catch (...) {
    ::close(fd);
    std::remove(tmp.c_str());
    throw;
  }
  ::close(fd);
  if (std::rename(tmp.c_str(), path_.c_str()) != 0) {
    const int e = errno;
    std::remove(tmp.c_str());
    fail("cannot move ", tmp, " to ", path_, ": ", std::strerror(e));
  }
  std::remove(records_path_.c_str());
  finished_ = true;
}

// ---- reader ----

ShardReader::ShardReader(const std::string& path) : file_(path) {
  const int64_t size = static_cast<int64_t>(file_.size());
  RSD_CHECK(size >= kShardPreambleBytes, "shard ", path, " is truncated: ", size, " bytes, less than the ",
            kShardPreambleBytes, "-byte preamble");
  const uint8_t* p = file_.data();
  RSD_CHECK(std::memcmp(p, kShardMagic, 8) == 0, path, " is not an rsd shard (it does not start with \"",
            kShardMagic, "\")");
  version_ = read_u32(p + 8);
  RSD_CHECK(version_ == kShardVersion, "shard ", path, " has format version ", version_, "; this build reads version ",
            kShardVersion);
  const uint32_t header_crc = read_u32(p + 12);
  const uint64_t header_length = read_u64(p + 16);
  const uint64_t data_offset = read_u64(p + 24);
  // Compared so that no sum can overflow, whatever a corrupt preamble holds.
  const auto after_preamble = static_cast<uint64_t>(size - kShardPreambleBytes);
  RSD_CHECK(header_length > 0 && header_length <= after_preamble && data_offset % kShardAlignment == 0 &&
                data_offset <= static_cast<uint64_t>(size) && data_offset - kShardPreambleBytes >= header_length,
            "shard ", path, " is truncated or its preamble is corrupt: a header of ", header_length,
            " bytes and records from byte ", data_offset, " in a file of ", size, " bytes");
  data_offset_ = static_cast<int64_t>(data_offset);
  const char* text = reinterpret_cast<const char*>(p + kShardPreambleBytes);
  RSD_CHECK(crc32c(text, header_length) == header_crc, "shard ", path,
            " has a corrupt header (its CRC32C does not match the preamble's)");
  ShardHeader h = decode_shard_header(text, header_length, path);
  layout_ = std::move(h.layout);
  statistics_json_ = std::move(h.statistics_json);
  records_ = std::move(h.records);
  record_layout_ = record_layout(layout_);
  RSD_CHECK(h.record_bytes == record_layout_.record_bytes, "corrupt shard header in ", path, ": record_bytes ",
            h.record_bytes, " but the layout implies ", record_layout_.record_bytes);
  const int64_t rb = record_layout_.record_bytes;
  RSD_CHECK(this->size() <= (size - data_offset_) / rb, "shard ", path, " is truncated: its header describes ",
            this->size(), " records of ", rb, " bytes from byte ", data_offset_, ", the file has ", size,
            " bytes (room for ", (size - data_offset_) / rb, " records)");
  const int64_t expected = data_offset_ + this->size() * rb;
  RSD_CHECK(size == expected, "shard ", path, " has ", size - expected, " bytes after its last record (", expected,
            " expected)");
}

void ShardReader::check_index(int64_t i) const {
  RSD_CHECK(i >= 0 && i < size(), "shard ", path(), ": record ", i, " is out of range [0, ", size(), ")");
}

const RecordMeta& ShardReader::meta(int64_t i) const {
  check_index(i);
  return records_[static_cast<size_t>(i)];
}

RecordView ShardReader::record_view(int64_t i) const {
  check_index(i);
  RecordView v;
  v.index = i;
  v.meta = &records_[static_cast<size_t>(i)];
  v.size = record_layout_.record_bytes;
  v.bytes = file_.data() + data_offset_ + i * v.size;
  v.raster_count = static_cast<int>(layout_.rasters.size());
  for (size_t r = 0; r < layout_.rasters.size(); ++r) {
    const RasterSections& s = record_layout_.sections[r];
    v.rasters[r] = {&layout_.rasters[r], &v.meta->rasters[r], reinterpret_cast<const float*>(v.bytes + s.pixels_offset),
                    v.bytes + s.mask_offset};
  }
  return v;
}

Sample ShardReader::read_sample(int64_t i) const {
  const RecordView v = record_view(i);
  Sample s;
  s.id = v.meta->id;
  s.labels.names = v.meta->label_names;
  s.labels.class_index = v.meta->class_index;
  for (int r = 0; r < v.raster_count; ++r) {
    const RecordRaster& rv = v.rasters[static_cast<size_t>(r)];
    decode_raster(rv, emplace_raster(s, rv.layout->sensor));
  }
  return s;
}

bool ShardReader::verify(int64_t i) const {
  const RecordView v = record_view(i);
  return crc32c(v.bytes, static_cast<size_t>(v.size)) == v.meta->crc32c;
}

std::vector<int64_t> ShardReader::verify_all() const {
  std::vector<int64_t> bad;
  for (int64_t i = 0; i < size(); ++i)
    if (!verify(i)) bad.push_back(i);
  return bad;
}

void ShardReader::prefetch(int64_t i) const {
  check_index(i);
  file_.prefetch(static_cast<size_t>(data_offset_ + i * record_bytes()), static_cast<size_t>(record_bytes()));
}

}  // namespace rsd::data
