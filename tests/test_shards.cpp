// Shards: the format round trip (bit-exact pixels, masks, labels, ids, georeferencing and
// statistics), fixed record size and alignment, datasets of many shards, checksums that find a
// flipped byte, truncated and corrupt files, and writes that leave nothing behind when interrupted.
// Samples are built in memory: no GDAL needed.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "data/shard.h"
#include "data/shard_dataset.h"
#include "engine/crc32c.h"
#include "engine/error.h"
#include "tests/support/harness.h"
#include "tests/support/shard_test_util.h"

namespace fs = std::filesystem;
using namespace rsd;
using namespace rsd::data;
using rsd::test::make_sample;
using rsd::test::ScratchDir;
using rsd::test::error_of;

namespace {

// Bit-for-bit equality of two float vectors (NaN payloads and -0.0 included).
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// a: as read back, b: as written.
void check_same_raster(const Raster& a, const Raster& b) {
  CHECK(a.bands == b.bands);
  CHECK(a.height == b.height);
  CHECK(a.width == b.width);
  CHECK(same_bits(a.pixels, b.pixels));
  CHECK(a.valid == b.valid);
  CHECK(a.invalid_count == b.invalid_count);
  CHECK(a.geo.crs_wkt == b.geo.crs_wkt);
  CHECK(a.geo.has_geotransform == b.geo.has_geotransform);
  // Without a geotransform the stored one is null and reads back as GDAL's default.
  if (a.geo.has_geotransform) {
    CHECK(std::memcmp(a.geo.geotransform.data(), b.geo.geotransform.data(), sizeof(double) * 6) == 0);
  } else {
    CHECK(a.geo.geotransform == GeoInfo{}.geotransform);
  }
  CHECK(a.source == b.source);
  CHECK(a.source_dtype == b.source_dtype);
}

void check_same_sample(const Sample& a, const Sample& b) {
  CHECK(a.id == b.id);
  REQUIRE(a.s1.has_value() == b.s1.has_value());
  REQUIRE(a.s2.has_value() == b.s2.has_value());
  REQUIRE(a.labels.map.has_value() == b.labels.map.has_value());
  if (a.s1) check_same_raster(*a.s1, *b.s1);
  if (a.s2) check_same_raster(*a.s2, *b.s2);
  if (a.labels.map) check_same_raster(*a.labels.map, *b.labels.map);
  CHECK(a.labels.names == b.labels.names);
  CHECK(a.labels.class_index == b.labels.class_index);
}

std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// Writes `n` samples (s1 + s2 + label map, 7 x 5 pixels) into one shard at `path`.
std::vector<Sample> write_shard(const std::string& path, int n, const std::string& statistics = "") {
  std::vector<Sample> samples;
  for (int i = 0; i < n; ++i) samples.push_back(make_sample("roi/" + std::to_string(i), static_cast<uint64_t>(i), 7, 5));
  ShardLayout layout = layout_of(samples[0], "test");
  layout.class_names = {"water", "land"};
  ShardWriter w(path, layout);
  for (const Sample& s : samples) w.append(s);
  if (!statistics.empty()) w.set_statistics(statistics);
  w.finish();
  return samples;
}


}  // namespace

TEST_SUITE("shards") {
  TEST_CASE("crc32c matches the published check values on both paths") {
    const char* check = "123456789";
    CHECK(crc32c(check, 9) == 0xE3069283u);
    CHECK(crc32c(nullptr, 0) == 0u);
    std::vector<uint8_t> zeros(32, 0), ones(32, 0xFF), ramp(32);
    for (size_t i = 0; i < 32; ++i) ramp[i] = static_cast<uint8_t>(i);
    // RFC 3720 (iSCSI) appendix B.4.
    CHECK(crc32c(zeros.data(), 32) == 0x8A9136AAu);
    CHECK(crc32c(ones.data(), 32) == 0x62A8AB43u);
    CHECK(crc32c(ramp.data(), 32) == 0x46DD794Eu);
    std::mt19937 rng(7);
    std::vector<uint8_t> data(1000);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    for (size_t n : {0, 1, 7, 8, 9, 63, 64, 65, 999, 1000}) {
      const uint32_t hw = crc32c(data.data(), n);
      CHECK(hw == rsd::detail::crc32c_extend_software(0, data.data(), n));
      for (size_t split : {size_t{0}, n / 3, n}) {
        CHECK(crc32c_extend(crc32c(data.data(), split), data.data() + split, n - split) == hw);
      }
    }
    // Long buffers: the hardware path's three interleaved chains over blocks of 3 x 8192 and
    // 3 x 256 bytes, the joins, and every tail, from aligned and unaligned starts.
    std::vector<uint8_t> big(2 * 3 * 8192 + 3 * 3 * 256 + 77);
    for (auto& b : big) b = static_cast<uint8_t>(rng());
    const size_t block = 3 * 8192;
    for (size_t n : {size_t{767}, size_t{768}, size_t{773}, block - 1, block, block + 9, big.size() - 3, big.size()}) {
      for (size_t start : {size_t{0}, size_t{3}}) {
        if (start + n > big.size()) continue;
        const uint32_t hw = crc32c(big.data() + start, n);
        CHECK(hw == rsd::detail::crc32c_extend_software(0, big.data() + start, n));
        CHECK(crc32c_extend(crc32c(big.data() + start, n / 2 + 1), big.data() + start + n / 2 + 1, n - n / 2 - 1) ==
              hw);
      }
    }
  }

  TEST_CASE("a shard round-trips samples bit-exactly") {
    ScratchDir dir;
    const std::string path = (dir.path / "a.rsd").string();
    const std::string stats = R"({"bands":{"B02":{"mean":0.1234567890123,"std":2.5}},"format":"x"})";
    const std::vector<Sample> samples = write_shard(path, 6, stats);
    const ShardReader r(path);
    REQUIRE(r.size() == 6);
    CHECK(r.version() == kShardVersion);
    CHECK(r.layout().name == "test");
    CHECK(r.layout().class_names == std::vector<std::string>{"water", "land"});
    CHECK(r.layout() == [&] {
      ShardLayout l = layout_of(samples[0], "test");
      l.class_names = {"water", "land"};
      return l;
    }());
    CHECK(r.statistics_json() == stats);
    for (int64_t i = 0; i < r.size(); ++i) {
      check_same_sample(r.read_sample(i), samples[static_cast<size_t>(i)]);
      CHECK(r.verify(i));
    }
    CHECK(r.verify_all().empty());

    // The zero-copy view points at the same values and mask bits.
    const RecordView v = r.record_view(3);
    const RecordRaster* s2 = v.find(Sensor::s2);
    REQUIRE(s2 != nullptr);
    const Raster& src = *samples[3].s2;
    CHECK(std::memcmp(s2->pixels, src.pixels.data(), src.pixels.size() * sizeof(float)) == 0);
    for (int64_t e = 0; e < s2->layout->elements(); ++e) CHECK(s2->valid(e) == (src.valid[static_cast<size_t>(e)] != 0));
    CHECK(v.meta->id == "roi/3");
  }

  TEST_CASE("an empty shard and one without statistics are valid") {
    ScratchDir dir;
    const std::string path = (dir.path / "empty.rsd").string();
    ShardWriter w(path, layout_of(make_sample("x", 1, 3, 3), "test"));
    w.finish();
    const ShardReader r(path);
    CHECK(r.size() == 0);
    CHECK(r.statistics_json() == "null");
    CHECK(r.verify_all().empty());
  }

  TEST_CASE("records have a fixed size and 64-byte alignment") {
    ScratchDir dir;
    const std::string path = (dir.path / "a.rsd").string();
    write_shard(path, 5);
    const ShardReader r(path);
    CHECK(r.data_offset() % kShardAlignment == 0);
    CHECK(r.record_bytes() % kShardAlignment == 0);
    CHECK(static_cast<int64_t>(fs::file_size(path)) == r.data_offset() + 5 * r.record_bytes());
    const RecordLayout rl = record_layout(r.layout());
    CHECK(rl.record_bytes == r.record_bytes());
    for (const RasterSections& s : rl.sections) {
      CHECK(s.pixels_offset % kShardAlignment == 0);
      CHECK(s.mask_offset % kShardAlignment == 0);
    }
    // s1 2 bands, s2 13 bands, label 1 band, all 7 x 5: 4 bytes a pixel, 1 bit a mask entry, each section
    // padded to 64 bytes: s1 280 -> 320 and 9 -> 64, s2 1820 -> 1856 and 57 -> 64, label 140 -> 192 and 5 -> 64.
    CHECK(rl.record_bytes == (320 + 64) + (1856 + 64) + (192 + 64));
    const RecordView first = r.record_view(0);
    for (int64_t i = 0; i < r.size(); ++i) {
      const RecordView v = r.record_view(i);
      CHECK(v.bytes - first.bytes == i * r.record_bytes());
      CHECK(v.bytes == reinterpret_cast<const uint8_t*>(first.bytes) + i * r.record_bytes());
      for (int k = 0; k < v.raster_count; ++k) {
        CHECK(reinterpret_cast<uintptr_t>(v.rasters[static_cast<size_t>(k)].pixels) % kShardAlignment == 0);
      }
    }
  }

  TEST_CASE("a dataset of many shards: names, index and global indices") {
    ScratchDir dir;
    const fs::path out = dir.path / "ds";
    std::vector<Sample> samples;
    for (int i = 0; i < 23; ++i) samples.push_back(make_sample("s" + std::to_string(i), static_cast<uint64_t>(100 + i), 4, 6));
    DatasetWriter w(out.string(), layout_of(samples[0], "test"), 5);
    for (const Sample& s : samples) w.append(s);
    w.set_statistics(R"({"mean":[1,2]})");
    w.set_info(R"({"source":"memory"})");
    const DatasetWriter::Result res = w.finish();
    REQUIRE(res.shards.size() == 5);
    for (size_t s = 0; s < 5; ++s) CHECK(fs::path(res.shards[s]).filename() == shard_file_name(static_cast<int64_t>(s), 5));
    CHECK(shard_file_name(3, 12) == "shard-00003-of-00012.rsd");
    CHECK(fs::exists(out / "dataset.json"));
    // Nothing else is left in the folder (no temporaries).
    int files = 0;
    for (const auto& e : fs::directory_iterator(out)) files += e.is_regular_file() ? 1 : 0;
    CHECK(files == 6);

    for (const std::string& p : {(out / "dataset.json").string(), out.string()}) {
      const ShardDataset ds(p);
      REQUIRE(ds.size() == 23);
      CHECK(ds.shard_count() == 5);
      CHECK(ds.shard(4).size() == 3);
      CHECK(ds.statistics_json() == R"({"mean":[1,2]})");
      CHECK(ds.info_json() == R"({"source":"memory"})");
      CHECK(ds.shard(2).statistics_json() == R"({"mean":[1,2]})");  // every shard header has them
      CHECK(ds.locate(0).shard == 0);
      CHECK(ds.locate(4).index == 4);
      CHECK(ds.locate(5).shard == 1);
      CHECK(ds.locate(22).shard == 4);
      CHECK(ds.locate(22).index == 2);
      for (int64_t i = 0; i < ds.size(); ++i) check_same_sample(ds.read_sample(i), samples[static_cast<size_t>(i)]);
      CHECK(ds.verify_all().empty());
    }
    // A single shard opens as a one-shard dataset.
    const ShardDataset one(res.shards[1]);
    CHECK(one.size() == 5);
    CHECK(one.meta(0).id == "s5");
  }

  TEST_CASE("a flipped byte in a record is found, and only that record is reported") {
    ScratchDir dir;
    const fs::path out = dir.path / "ds";
    {
      DatasetWriter w(out.string(), layout_of(make_sample("a", 1, 4, 4), "test"), 4);
      for (int i = 0; i < 10; ++i) w.append(make_sample("id" + std::to_string(i), static_cast<uint64_t>(i), 4, 4));
      w.finish();
    }
    const fs::path shard = out / shard_file_name(1, 3);
    std::vector<uint8_t> bytes = read_bytes(shard);
    int64_t data_offset = 0, record_bytes = 0;
    {
      const ShardReader r(shard.string());
      data_offset = r.data_offset();
      record_bytes = r.record_bytes();
    }
    // Record 2 of shard 1 (global 6): one pixel byte, then (separately) one padding byte.
    for (int64_t where : {int64_t{17}, record_bytes - 1}) {
      std::vector<uint8_t> corrupt = bytes;
      corrupt[static_cast<size_t>(data_offset + 2 * record_bytes + where)] ^= 0x10;
      write_bytes(shard, corrupt);
      const ShardReader r(shard.string());
      CHECK(r.verify_all() == std::vector<int64_t>{2});
      CHECK_FALSE(r.verify(2));
      CHECK(r.verify(1));
      const ShardDataset ds(out.string());
      const std::vector<CorruptRecord> bad = ds.verify_all();
      REQUIRE(bad.size() == 1);
      CHECK(bad[0].shard == shard.string());
      CHECK(bad[0].index == 2);
      CHECK(bad[0].global == 6);
      CHECK(bad[0].id == "id6");
    }
  }

  TEST_CASE("an interrupted write leaves no file and no temporary behind") {
    ScratchDir dir;
    const std::string path = (dir.path / "a.rsd").string();
    {
      ShardWriter w(path, layout_of(make_sample("x", 1, 3, 3), "test"));
      w.append(make_sample("x", 1, 3, 3));
      CHECK_FALSE(fs::is_empty(dir.path));  // the records are being written to a temporary
    }  // destroyed without finish()
    CHECK(fs::is_empty(dir.path));

    const fs::path out = dir.path / "ds";
    auto interrupted = [&] {
      DatasetWriter w(out.string(), layout_of(make_sample("a", 1, 3, 3), "test"), 2);
      for (int i = 0; i < 7; ++i) {
        if (i == 5) throw std::runtime_error("interrupted");
        w.append(make_sample("id" + std::to_string(i), static_cast<uint64_t>(i), 3, 3));
      }
      w.finish();
    };
    CHECK_THROWS_AS(interrupted(), std::runtime_error);
    CHECK_FALSE(fs::exists(out));  // it made the folder, and removed it again
    CHECK(fs::is_empty(dir.path));

    // A folder that existed before stays, emptied of what the writer made.
    fs::create_directories(out);
    CHECK_THROWS_AS(interrupted(), std::runtime_error);
    CHECK(fs::exists(out));
    CHECK(fs::is_empty(out));
  }

  TEST_CASE("a finished shard replaces the file atomically; no temporary remains") {
    ScratchDir dir;
    const std::string path = (dir.path / "a.rsd").string();
    write_shard(path, 2);
    write_shard(path, 3);
    CHECK(ShardReader(path).size() == 3);
    int files = 0;
    for (const auto& e : fs::directory_iterator(dir.path)) files += e.is_regular_file() ? 1 : 0;
    CHECK(files == 1);
  }

  TEST_CASE("a truncated shard names the file and says it is truncated") {
    ScratchDir dir;
    const fs::path path = dir.path / "a.rsd";
    write_shard(path.string(), 3);
    const std::vector<uint8_t> bytes = read_bytes(path);
    for (size_t keep : {bytes.size() - 1, bytes.size() - 200, size_t{40}, size_t{10}, size_t{0}}) {
      write_bytes(path, std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(keep)));
      const std::string e = error_of([&] { ShardReader r(path.string()); });
      CAPTURE(keep);
      CHECK(e.find(path.string()) != std::string::npos);
      CHECK(e.find("truncated") != std::string::npos);
    }
  }

  TEST_CASE("a corrupt header, a wrong magic or version, trailing bytes: rsd::Error naming the file") {
    ScratchDir dir;
    const fs::path path = dir.path / "a.rsd";
    write_shard(path.string(), 2);
    const std::vector<uint8_t> good = read_bytes(path);

    auto expect = [&](std::vector<uint8_t> bytes, const std::string& what) {
      write_bytes(path, bytes);
      const std::string e = error_of([&] { ShardReader r(path.string()); });
      CAPTURE(e);
      CHECK(e.find(path.string()) != std::string::npos);
      CHECK(e.find(what) != std::string::npos);
    };
    std::vector<uint8_t> b = good;
    b[kShardPreambleBytes + 20] ^= 0x01;  // a byte of the JSON header
    expect(b, "corrupt header");
    b = good;
    b[0] = 'X';
    expect(b, "not an rsd shard");
    b = good;
    b[8] = 9;  // version 9
    expect(b, "version 9");
    b = good;
    b.push_back(0);
    expect(b, "after its last record");
    b = good;
    b[24] = 3;  // a data offset that is not 64-aligned
    expect(b, "preamble is corrupt");
    expect({}, "truncated");
    CHECK(error_of([&] { ShardReader r((dir.path / "missing.rsd").string()); }).find("missing.rsd") != std::string::npos);
  }

  TEST_CASE("random damage to the preamble or header gives an rsd::Error, never a crash") {
    ScratchDir dir;
    const fs::path path = dir.path / "a.rsd";
    write_shard(path.string(), 2);
    const std::vector<uint8_t> good = read_bytes(path);
    const auto data_offset = static_cast<size_t>(ShardReader(path.string()).data_offset());
    std::mt19937 rng(11);
    int errors = 0;
    for (int trial = 0; trial < 300; ++trial) {
      std::vector<uint8_t> b = good;
      const size_t at = trial < 32 ? static_cast<size_t>(trial) : rng() % data_offset;
      b[at] = static_cast<uint8_t>(b[at] ^ (1u + rng() % 255));
      write_bytes(path, b);
      try {
        const ShardReader r(path.string());
        CHECK(at >= kShardPreambleBytes);  // only the zero padding after the header is not covered
        CHECK(r.verify_all().empty());
      } catch (const rsd::Error& e) {
        ++errors;
        CHECK(std::string(e.what()).find(path.string()) != std::string::npos);
      }
    }
    CHECK(errors > 250);
  }

  TEST_CASE("a sample that does not fit the layout is refused, naming the sample") {
    ScratchDir dir;
    const Sample first = make_sample("first", 1, 4, 4);
    ShardWriter w((dir.path / "a.rsd").string(), layout_of(first, "test"));
    w.append(first);

    Sample other_size = make_sample("tile-9", 2, 5, 4);
    std::string e = error_of([&] { w.append(other_size); });
    CHECK(e.find("tile-9") != std::string::npos);
    CHECK(e.find("5x4") != std::string::npos);

    Sample other_bands = make_sample("tile-10", 3, 4, 4);
    other_bands.s2->bands[0] = "B8A";
    e = error_of([&] { w.append(other_bands); });
    CHECK(e.find("tile-10") != std::string::npos);
    CHECK(e.find("bands") != std::string::npos);

    Sample no_s1 = make_sample("tile-11", 4, 4, 4);
    no_s1.s1.reset();
    e = error_of([&] { w.append(no_s1); });
    CHECK(e.find("tile-11") != std::string::npos);
    CHECK(e.find("it has no s1 raster but the layout has one") != std::string::npos);

    Sample bad_mask = make_sample("tile-12", 5, 4, 4);
    bad_mask.s2->valid.clear();
    e = error_of([&] { w.append(bad_mask); });
    CHECK(e.find("tile-12") != std::string::npos);
    CHECK(e.find("validity mask") != std::string::npos);

    Sample bad_count = make_sample("tile-13", 6, 4, 4);
    bad_count.s1->invalid_count += 1;
    e = error_of([&] { w.append(bad_count); });
    CHECK(e.find("tile-13") != std::string::npos);
    CHECK(e.find("invalid") != std::string::npos);
    CHECK(w.size() == 1);  // nothing refused was written
  }

  TEST_CASE("a dataset refuses duplicate ids, bad statistics and an existing dataset folder") {
    ScratchDir dir;
    const fs::path out = dir.path / "ds";
    {
      DatasetWriter w(out.string(), layout_of(make_sample("a", 1, 3, 3), "test"), 4);
      w.append(make_sample("a", 1, 3, 3));
      std::string e = error_of([&] { w.append(make_sample("a", 2, 3, 3)); });
      CHECK(e.find("\"a\" appears twice") != std::string::npos);
      e = error_of([&] { w.set_statistics("{not json"); });
      CHECK(e.find("statistics") != std::string::npos);
      w.finish();
    }
    const std::string e = error_of([&] { DatasetWriter w(out.string(), layout_of(make_sample("a", 1, 3, 3), "t"), 4); });
    CHECK(e.find("already holds") != std::string::npos);
    CHECK(e.find(out.string()) != std::string::npos);

    // A missing shard, or an index that disagrees with its shards.
    fs::remove(out / shard_file_name(0, 1));
    CHECK(error_of([&] { ShardDataset ds(out.string()); }).find(shard_file_name(0, 1)) != std::string::npos);
    CHECK(error_of([&] { ShardDataset ds(dir.path.string()); }).find("holds no dataset.json") != std::string::npos);
  }

  TEST_CASE("reading out of range names the shard and the index") {
    ScratchDir dir;
    const std::string path = (dir.path / "a.rsd").string();
    write_shard(path, 2);
    const ShardReader r(path);
    const std::string e = error_of([&] { r.record_view(2); });
    CHECK(e.find(path) != std::string::npos);
    CHECK(e.find("record 2") != std::string::npos);
  }
}
