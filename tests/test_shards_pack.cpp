// `rsd pack`, `rsd info` and `rsd make-synthetic` through their functions (data/pack.h,
// data/inspect.h, data/synthetic_shards.h): packing in-memory samples (no GDAL) with several
// threads gives the same bytes as one thread; bad samples abort (leaving nothing) or are skipped
// and reported; info summarizes and verifies. With GDAL, every shipped sample set is packed,
// verified, and read back equal to the reader's own loading of the source files.
#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "data/inspect.h"
#include "data/layouts.h"
#include "data/pack.h"
#include "data/shard.h"
#include "data/shard_dataset.h"
#include "data/synthetic_shards.h"
#include "engine/error.h"
#include "tests/support/harness.h"
#include "tests/support/shard_test_util.h"

namespace fs = std::filesystem;
using namespace rsd::data;
using rsd::test::make_sample;
using rsd::test::ScratchDir;
using rsd::test::error_of;

namespace {

// Samples built in memory; `bad` indices fail to load with an error naming a file, and
// `throw_at` throws a non-rsd exception (an interruption).
class MemorySource final : public rsd::data::PackSource {
 public:
  explicit MemorySource(int n, int64_t h = 6, int64_t w = 5) {
    for (int i = 0; i < n; ++i) samples.push_back(make_sample("m/" + std::to_string(i), static_cast<uint64_t>(i), h, w));
  }
  int64_t size() const override { return static_cast<int64_t>(samples.size()); }
  std::string id(int64_t i) const override { return samples[static_cast<size_t>(i)].id; }
  std::string files(int64_t i) const override { return "mem/" + std::to_string(i) + ".tif"; }
  std::optional<Sample> try_load(int64_t i, std::string* error) const override {
    if (i == throw_at) throw std::runtime_error("interrupted");
    for (int64_t b : bad) {
      if (b == i) {
        *error = files(i) + ": cannot read pixels (the file is truncated)";
        return std::nullopt;
      }
    }
    return samples[static_cast<size_t>(i)];
  }

  std::vector<Sample> samples;
  std::vector<int64_t> bad;
  int64_t throw_at = -1;
};

rsd::data::PackOptions quiet_options(int threads, int64_t per_shard) {
  rsd::data::PackOptions o;
  o.layout_name = "memory";
  o.class_names = {"a", "b", "c"};
  o.records_per_shard = per_shard;
  o.threads = threads;
  o.progress = false;
  return o;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}


bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

fs::path samples_dir() {
  if (const char* env = std::getenv("RSD_SAMPLES_DIR")) return env;
  return fs::path(__FILE__).parent_path().parent_path() / "data" / "samples";
}

}  // namespace

TEST_SUITE("shards") {
  TEST_CASE("pack: several threads write the same bytes as one, in source order, with statistics") {
    ScratchDir dir;
    const MemorySource source(11);
    const auto one = rsd::data::pack_samples(source, (dir.path / "t1").string(), quiet_options(1, 4));
    const auto three = rsd::data::pack_samples(source, (dir.path / "t3").string(), quiet_options(3, 4));
    CHECK(one.packed == 11);
    REQUIRE(one.shards.size() == 3);
    REQUIRE(three.shards.size() == 3);
    for (size_t s = 0; s < 3; ++s) CHECK(slurp(one.shards[s]) == slurp(three.shards[s]));
    CHECK(one.skipped_report.empty());
    CHECK_FALSE(fs::exists(dir.path / "t1" / "skipped.json"));

    const ShardDataset ds((dir.path / "t3").string());
    REQUIRE(ds.size() == 11);
    CHECK(ds.layout().name == "memory");
    CHECK(ds.layout().class_names == std::vector<std::string>{"a", "b", "c"});
    for (int64_t i = 0; i < ds.size(); ++i) {
      const Sample s = ds.read_sample(i);
      CHECK(s.id == source.samples[static_cast<size_t>(i)].id);
      CHECK(std::memcmp(s.s2->pixels.data(), source.samples[static_cast<size_t>(i)].s2->pixels.data(),
                        s.s2->pixels.size() * sizeof(float)) == 0);
    }
    // The statistics are data/normalization.h's, over every valid S1/S2 value, in every header.
    const BandStatistics stats = BandStatistics::from_json(ds.statistics_json());
    CHECK(stats == one.statistics);
    CHECK(BandStatistics::from_json(ds.shard(2).statistics_json()) == stats);
    StatisticsAccumulator expected;
    for (const Sample& s : source.samples) {
      expected.add(*s.s1);
      expected.add(*s.s2);
    }
    const BandStatistics e = expected.finish();
    REQUIRE(stats.bands.size() == 15);
    for (const auto& [band, st] : e.bands) {
      CHECK(stats.at(band, "test").count == st.count);
      CHECK(stats.at(band, "test").mean == doctest::Approx(st.mean).epsilon(1e-12));
      CHECK(stats.at(band, "test").std == doctest::Approx(st.std).epsilon(1e-9));
    }
  }

  TEST_CASE("pack --skip-bad: bad samples are skipped, counted and listed in skipped.json") {
    ScratchDir dir;
    MemorySource source(9);
    source.bad = {2, 5};
    source.samples[7] = make_sample("m/7", 7, 4, 4);  // another size than the first sample's
    rsd::data::PackOptions o = quiet_options(2, 100);
    o.skip_bad = true;
    const auto r = rsd::data::pack_samples(source, (dir.path / "out").string(), o);
    CHECK(r.packed == 6);
    REQUIRE(r.skipped.size() == 3);
    CHECK(r.skipped[0].id == "m/2");
    CHECK(r.skipped[0].file == "mem/2.tif");
    CHECK(contains(r.skipped[0].error, "truncated"));
    CHECK(r.skipped[2].id == "m/7");
    CHECK(contains(r.skipped[2].error, "4x4"));
    CHECK(r.skipped_report == (dir.path / "out" / "skipped.json").string());
    const std::string report = slurp(r.skipped_report);
    CHECK(contains(report, "\"skipped\": 3"));
    CHECK(contains(report, "mem/5.tif"));
    CHECK(contains(slurp(r.index_path), "\"skipped\": 3"));
    const ShardDataset ds((dir.path / "out").string());
    CHECK(ds.size() == 6);
    CHECK(ds.meta(2).id == "m/3");
  }

  TEST_CASE("info: summary of a dataset and a shard, and --verify naming corrupted records") {
    ScratchDir dir;
    const MemorySource source(7);
    const auto r = rsd::data::pack_samples(source, (dir.path / "ds").string(), quiet_options(1, 3));
    rsd::data::InfoOptions verify;
    verify.verify = true;
    verify.progress = false;
    rsd::data::InfoResult info = rsd::data::describe_path((dir.path / "ds").string(), verify);
    CHECK(info.ok());
    CHECK(info.verified);
    CHECK(contains(info.text, "layout: memory"));
    CHECK(contains(info.text, "records: 7"));
    CHECK(contains(info.text, "s2: 6 x 5, 13 bands"));
    CHECK(contains(info.text, "VV"));
    CHECK(contains(info.text, "verify: OK"));
    CHECK(contains(rsd::data::describe_path(r.shards[1]).text, "shard: " + r.shards[1]));

    // Corrupt record 1 of the last shard (global 7 - 1 = 6).
    const ShardReader last(r.shards[2]);
    const auto offset = last.data_offset() + 0 * last.record_bytes() + 5;
    {
      std::fstream f(r.shards[2], std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(offset);
      f.put('\x7f');
    }
    info = rsd::data::describe_path(r.index_path, verify);
    CHECK_FALSE(info.ok());
    REQUIRE(info.corrupted.size() == 1);
    CHECK(info.corrupted[0].global == 6);
    CHECK(contains(info.text, r.shards[2] + ": records [0] (ids: m/6)"));
  }

  TEST_CASE("make-synthetic: shards labelled synthetic everywhere") {
    ScratchDir dir;
    rsd::data::SyntheticShardsConfig c;
    c.out = (dir.path / "syn").string();
    c.samples = 5;
    c.size = 8;
    c.records_per_shard = 2;
    c.threads = 2;
    c.progress = false;
    const auto r = rsd::data::make_synthetic_shards(c);
    REQUIRE(r.shards.size() == 3);
    const ShardDataset ds(c.out);
    CHECK(ds.synthetic());
    CHECK(ds.layout().name == "synthetic");
    CHECK(ds.layout().rasters.size() == 2);  // s1 (VV, VH) and s2 (13 bands): 15 bands
    CHECK(ds.layout().find(Sensor::s1)->channels() + ds.layout().find(Sensor::s2)->channels() == 15);
    CHECK(ds.meta(3).id == "synthetic/000003");
    CHECK(contains(slurp(r.shards[0]), "\"synthetic\":true"));
    CHECK(contains(slurp(r.index_path), "\"synthetic\": true"));
    CHECK(contains(rsd::data::describe_path(c.out).text, "SYNTHETIC"));
    // A pure function of (seed, index).
    const Sample a = rsd::data::synthetic_sample(15, 8, 0, 3);
    CHECK(ds.read_sample(3).s2->pixels == a.s2->pixels);
  }

  TEST_CASE("pack: every shipped sample set packs, verifies, and reads back as loaded" *
            doctest::skip(!RSD_HAVE_GDAL)) {
    ScratchDir dir;
    REQUIRE_MESSAGE(fs::is_directory(samples_dir()), "data/samples is missing (tools/make_samples.sh makes it)");
    int sets = 0;
    for (const auto& entry : fs::directory_iterator(samples_dir())) {
      if (!entry.is_directory()) continue;
      ++sets;
      const std::string name = entry.path().filename().string();
      CAPTURE(name);
      rsd::data::PackCommand cmd;
      cmd.src = entry.path().string();
      cmd.out = (dir.path / name).string();
      cmd.threads = 2;
      cmd.records_per_shard = 100;
      cmd.progress = false;
      const auto r = rsd::data::pack_dataset(cmd);
      CHECK(r.packed > 0);
      rsd::data::InfoOptions verify;
      verify.verify = true;
      verify.progress = false;
      CHECK(rsd::data::describe_path(cmd.out, verify).ok());

      // The records equal the reader's loading of the source files, bit for bit.
      const Dataset source = discover(cmd.src);
      const ShardDataset ds(cmd.out);
      REQUIRE(ds.size() == static_cast<int64_t>(source.samples.size()));
      for (int64_t i = 0; i < ds.size(); i += std::max<int64_t>(1, ds.size() / 7)) {
        const Sample want = load_sample(source.samples[static_cast<size_t>(i)]);
        const Sample got = ds.read_sample(i);
        CHECK(got.id == want.id);
        for (auto [g, w] : {std::pair{&got.s1, &want.s1}, std::pair{&got.s2, &want.s2}}) {
          REQUIRE(g->has_value() == w->has_value());
          if (!g->has_value()) continue;
          CHECK((*g)->bands == (*w)->bands);
          CHECK(std::memcmp((*g)->pixels.data(), (*w)->pixels.data(), (*w)->pixels.size() * sizeof(float)) == 0);
          CHECK((*g)->valid == (*w)->valid);
          CHECK((*g)->geo.crs_wkt == (*w)->geo.crs_wkt);
          CHECK((*g)->geo.geotransform == (*w)->geo.geotransform);
        }
        CHECK(got.labels.class_index == want.labels.class_index);
        CHECK(got.labels.names == want.labels.names);
      }
    }
    CHECK(sets >= 4);
  }

  TEST_CASE("pack: a bad sample aborts with its error and leaves nothing behind") {
    ScratchDir dir;
    MemorySource source(8);
    source.bad = {5};
    const fs::path out = dir.path / "out";
    const std::string e = error_of([&] { rsd::data::pack_samples(source, out.string(), quiet_options(2, 2)); });
    CHECK(contains(e, "mem/5.tif"));
    CHECK(contains(e, "m/5"));
    CHECK(contains(e, "--skip-bad"));
    CHECK_FALSE(fs::exists(out));

    // An interruption (any exception) in the middle: nothing left, and a folder made before stays empty.
    MemorySource interrupted(8);
    interrupted.throw_at = 6;
    fs::create_directories(out);
    CHECK_THROWS_AS(rsd::data::pack_samples(interrupted, out.string(), quiet_options(3, 2)), std::runtime_error);
    CHECK(fs::is_empty(out));

    // Every sample bad, even with --skip-bad: an error, nothing written.
    MemorySource all_bad(3);
    all_bad.bad = {0, 1, 2};
    rsd::data::PackOptions o = quiet_options(1, 2);
    o.skip_bad = true;
    fs::remove(out);
    CHECK(contains(error_of([&] { rsd::data::pack_samples(all_bad, out.string(), o); }), "all 3 samples are bad"));
    CHECK_FALSE(fs::exists(out));
  }

  TEST_CASE("info: a missing path, a truncated shard, --verify on a source folder") {
    ScratchDir dir;
    CHECK(contains(error_of([&] { rsd::data::describe_path((dir.path / "nope").string()); }), "does not exist"));
    const fs::path shard = dir.path / "a.rsd";
    {
      ShardWriter w(shard.string(), layout_of(make_sample("x", 1, 3, 3), "t"));
      w.append(make_sample("x", 1, 3, 3));
      w.finish();
    }
    fs::resize_file(shard, fs::file_size(shard) - 10);
    const std::string e = error_of([&] { rsd::data::describe_path(shard.string()); });
    CHECK(contains(e, shard.string()));
    CHECK(contains(e, "truncated"));
    rsd::data::InfoOptions verify;
    verify.verify = true;
    fs::create_directories(dir.path / "empty");
    CHECK(contains(error_of([&] { rsd::data::describe_path((dir.path / "empty").string(), verify); }),
                   "no checksums to verify"));
  }

  TEST_CASE("pack: a truncated GeoTIFF aborts naming the file, or is skipped and reported" *
            doctest::skip(!RSD_HAVE_GDAL)) {
    ScratchDir dir;
    const fs::path src = dir.path / "eurosat";
    for (const char* cls : {"Forest", "River"}) {
      fs::create_directories(src / "train" / cls);
      for (const auto& f : fs::directory_iterator(samples_dir() / "eurosat-ms-subset" / "train" / cls))
        fs::copy_file(f.path(), src / "train" / cls / f.path().filename());
    }
    fs::path victim;
    for (const auto& f : fs::directory_iterator(src / "train" / "River")) victim = f.path();
    fs::resize_file(victim, 3000);

    rsd::data::PackCommand cmd;
    cmd.src = src.string();
    cmd.out = (dir.path / "out").string();
    cmd.progress = false;
    const std::string e = error_of([&] { rsd::data::pack_dataset(cmd); });
    CHECK(contains(e, victim.string()));
    CHECK_FALSE(fs::exists(cmd.out));

    cmd.skip_bad = true;
    const auto r = rsd::data::pack_dataset(cmd);
    REQUIRE(r.skipped.size() == 1);
    CHECK(r.skipped[0].file == victim.string());
    CHECK(contains(slurp(r.skipped_report), victim.string()));
  }
}
