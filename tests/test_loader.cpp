// The threaded loader (data/loader.h) and its order (data/sampler.h): every sample once per epoch,
// the same batches whatever the number of workers, a new shuffle each epoch, disjoint rank shares,
// drop_last, clean shutdown, worker errors naming the sample, no allocation in steady state, and
// reading packed shards zero-copy.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iterator>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "data/loader.h"
#include "data/sampler.h"
#include "data/shard_dataset.h"
#include "data/shard_source.h"
#include "engine/allocator.h"
#include "engine/pinned.h"
#include "tests/support/runner.h"

using namespace rsd;
using namespace rsd::data;
namespace {

constexpr int64_t kH = 3, kW = 2, kC = 2;  // a tiny sample: (3, 2, 2)

// Sample i: S2 pixel e holds i + e / 1000 (exact enough in float for small i), class i % 7.
Sample make_sample(int64_t i) {
  Sample s;
  s.id = "sample-" + std::to_string(i);
  Raster r;
  r.bands = {"B02", "B03"};
  r.height = kH;
  r.width = kW;
  for (int64_t e = 0; e < kH * kW * kC; ++e) r.pixels.push_back(static_cast<float>(i) + static_cast<float>(e) / 1000.0f);
  r.valid.assign(r.pixels.size(), 1);
  s.s2 = r;
  s.labels.class_index = static_cast<int32_t>(i % 7);
  return s;
}

std::shared_ptr<const SampleSource> make_source(int64_t n) {
  std::vector<Sample> v;
  for (int64_t i = 0; i < n; ++i) v.push_back(make_sample(i));
  return std::make_shared<InMemorySource>(std::move(v));
}

LoaderOptions small_options(int workers = 2) {
  LoaderOptions o;
  o.batch_size = 8;
  o.sample_shape = {kH, kW, kC};
  o.workers = workers;
  o.prefetch = 3;
  o.seed = 1234;
  return o;
}

// Writes the sample's pixels plus a value drawn from the per-sample seed (an "augmentation").
void seeded_copy(const Sample& s, uint64_t seed, uint64_t index, float* out) {
  const std::vector<float>& p = s.s2->pixels;
  std::copy(p.begin(), p.end(), out);
  out[p.size() - 1] = static_cast<float>(seed % 65536) + static_cast<float>(index) * 1e-6f;
}

struct Seen {
  std::vector<std::vector<int64_t>> indices;     // per batch
  std::vector<std::vector<double>> images;       // per batch
  std::vector<std::vector<double>> labels;
  std::vector<std::pair<int64_t, int64_t>> at;   // (epoch, step)
};

// Takes `batches` batches, copying what they hold (the batches themselves go back to the ring).
Seen take(Loader& loader, int64_t batches) {
  Seen seen;
  for (int64_t b = 0; b < batches; ++b) {
    std::optional<Batch> batch = loader.next();
    REQUIRE(batch.has_value());
    seen.indices.push_back(batch->indices);
    seen.images.push_back(batch->images.to_host_doubles());
    seen.labels.push_back(batch->labels.to_host_doubles());
    seen.at.emplace_back(batch->epoch, batch->step);
  }
  return seen;
}

// Runs fn on its own thread; a run past the limit is a hang: reported, then the process exits,
// since a deadlocked loader could not be joined.
void finishes_within(double seconds, const std::function<void()>& fn, const char* what) {
  std::packaged_task<void()> task(fn);
  std::future<void> done = task.get_future();
  std::thread t(std::move(task));
  if (done.wait_for(std::chrono::duration<double>(seconds)) != std::future_status::ready) {
    std::fprintf(stderr, "FATAL: %s did not finish within %.0f s (deadlock)\n", what, seconds);
    std::fflush(stderr);
    std::_Exit(3);
  }
  t.join();
  done.get();  // rethrows what fn threw
}

}  // namespace

TEST_SUITE("loader") {
  TEST_CASE("epoch permutations are permutations, reproducible, new every epoch") {
    const std::vector<int64_t> a = epoch_permutation(1000, 7, 0), b = epoch_permutation(1000, 7, 0);
    CHECK(a == b);
    std::vector<int64_t> sorted = a;
    std::sort(sorted.begin(), sorted.end());
    for (int64_t i = 0; i < 1000; ++i) CHECK(sorted[static_cast<size_t>(i)] == i);
    CHECK(epoch_permutation(1000, 7, 1) != a);
    CHECK(epoch_permutation(1000, 8, 0) != a);
    const std::vector<int64_t> id = epoch_permutation(5, 7, 3, false);
    CHECK(id == std::vector<int64_t>{0, 1, 2, 3, 4});
    CHECK(epoch_permutation(0, 7, 0).empty());
    CHECK(epoch_permutation(1, 7, 0) == std::vector<int64_t>{0});
    CHECK(sample_seed(1, 0, 5) != sample_seed(1, 1, 5));
    CHECK(sample_seed(1, 0, 5) != sample_seed(1, 0, 6));
    CHECK(sample_seed(1, 0, 5) == sample_seed(1, 0, 5));
  }

  TEST_CASE("on a CPU run the workers yield to the compute threads (nice +10)") {
    // The nice value of every thread of this process, from /proc (field 19 of a task's stat).
    const auto nice_values = [] {
      std::vector<long> out;
      for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
        std::ifstream in(task.path() / "stat");
        std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::istringstream fields(stat.substr(stat.rfind(')') + 2));  // after "pid (comm) "
        std::string f;
        for (int i = 3; i <= 19 && fields >> f; ++i) {}
        out.push_back(std::stol(f));
      }
      return out;
    };
    const long own = nice_values().front();
    Loader loader(make_source(40), SampleTransform(seeded_copy), small_options(3));
    REQUIRE(loader.next().has_value());
    // One worker may fill the first batch before the others are scheduled: wait (up to 10 s on a
    // loaded machine) until all three have lowered their own priority.
    const auto yielded = [&] {
      const std::vector<long> all = nice_values();
      return std::count_if(all.begin(), all.end(), [&](long v) { return v >= std::min(own + 10, 19L); });
    };
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (yielded() < 3 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    CHECK(yielded() >= 3);
  }

  TEST_CASE("every index is seen exactly once per epoch, with its pixels, label and id") {
    const int64_t n = 103;
    Loader loader(make_source(n), SampleTransform(seeded_copy), small_options());
    CHECK(loader.batches_per_epoch() == 13);
    CHECK(loader.samples_per_epoch() == n);
    for (int64_t epoch = 0; epoch < 2; ++epoch) {
      std::vector<int> count(static_cast<size_t>(n), 0);
      for (int64_t step = 0; step < 13; ++step) {
        std::optional<Batch> b = loader.next();
        REQUIRE(b.has_value());
        CHECK(b->epoch == epoch);
        CHECK(b->step == step);
        CHECK(b->rows() == (step < 12 ? 8 : 7));
        CHECK(b->images.shape() == Shape{b->rows(), kH, kW, kC});
        CHECK(b->labels.shape() == Shape{b->rows()});
        const float* px = b->images.data<float>();
        const int32_t* lab = b->labels.data<int32_t>();
        for (int64_t r = 0; r < b->rows(); ++r) {
          const int64_t i = b->indices[static_cast<size_t>(r)];
          REQUIRE(i >= 0);
          REQUIRE(i < n);
          count[static_cast<size_t>(i)]++;
          CHECK(px[r * kH * kW * kC] == static_cast<float>(i));  // the row holds sample i
          CHECK(px[r * kH * kW * kC + 5] == doctest::Approx(i + 0.005));
          CHECK(lab[r] == i % 7);
          CHECK(b->ids[static_cast<size_t>(r)] == "sample-" + std::to_string(i));
        }
      }
      for (int64_t i = 0; i < n; ++i) CHECK(count[static_cast<size_t>(i)] == 1);
    }
  }

  TEST_CASE("the same seed gives the same batches whatever the number of workers") {
    const int64_t n = 75;
    Seen reference;
    for (int workers : {1, 2, 4}) {
      CAPTURE(workers);
      LoaderOptions o = small_options(workers);
      Loader loader(make_source(n), SampleTransform(seeded_copy), o);
      const Seen seen = take(loader, 3 * loader.batches_per_epoch());
      if (workers == 1) {
        reference = seen;
        continue;
      }
      CHECK(seen.indices == reference.indices);
      CHECK(seen.images == reference.images);  // augmentations too: seeds per (epoch, index)
      CHECK(seen.labels == reference.labels);
      CHECK(seen.at == reference.at);
    }
  }

  TEST_CASE("each epoch is a new shuffle; a new seed another; no shuffle is dataset order") {
    const int64_t n = 64;
    auto epoch_orders = [&](uint64_t seed, bool shuffle) {
      LoaderOptions o = small_options();
      o.seed = seed;
      o.shuffle = shuffle;
      Loader loader(make_source(n), SampleTransform(seeded_copy), o);
      std::vector<std::vector<int64_t>> orders(2);
      for (int e = 0; e < 2; ++e)
        for (int64_t s = 0; s < loader.batches_per_epoch(); ++s) {
          const std::optional<Batch> b = loader.next();
          orders[static_cast<size_t>(e)].insert(orders[static_cast<size_t>(e)].end(), b->indices.begin(), b->indices.end());
        }
      return orders;
    };
    const auto a = epoch_orders(5, true), b = epoch_orders(6, true), c = epoch_orders(5, false);
    CHECK(a[0] != a[1]);
    CHECK(a[0] != b[0]);
    CHECK(a == epoch_orders(5, true));
    std::vector<int64_t> identity(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) identity[static_cast<size_t>(i)] = i;
    CHECK(c[0] == identity);
    CHECK(c[1] == identity);
  }

  TEST_CASE("ranks see disjoint shares that cover the epoch, with the same number of batches") {
    const int64_t n = 100;
    const int world = 3;
    for (Remainder rem : {Remainder::drop, Remainder::pad}) {
      CAPTURE(rem == Remainder::drop ? "drop" : "pad");
      for (int64_t epoch = 0; epoch < 2; ++epoch) {
        std::vector<int> count(static_cast<size_t>(n), 0);
        int64_t batches = -1;
        for (int rank = 0; rank < world; ++rank) {
          LoaderOptions o = small_options();
          o.split = RankSplit{rank, world, rem};
          o.start_epoch = epoch;
          Loader loader(make_source(n), SampleTransform(seeded_copy), o);
          CHECK(loader.samples_per_epoch() == (rem == Remainder::drop ? 33 : 34));
          if (batches < 0) batches = loader.batches_per_epoch();
          CHECK(loader.batches_per_epoch() == batches);  // every rank steps the same number of times
          for (int64_t s = 0; s < batches; ++s) {
            const std::optional<Batch> b = loader.next();
            for (int64_t i : b->indices) count[static_cast<size_t>(i)]++;
          }
        }
        const int64_t seen = std::count_if(count.begin(), count.end(), [](int c) { return c > 0; });
        if (rem == Remainder::drop) {
          CHECK(seen == 99);  // one sample left out (a different one each epoch)
          CHECK(*std::max_element(count.begin(), count.end()) == 1);
        } else {
          CHECK(seen == 100);  // all covered; 2 samples twice (102 = 3 x 34 slots)
          CHECK(std::accumulate(count.begin(), count.end(), 0) == 102);
        }
      }
    }
    RankSplit bad{3, 3, Remainder::drop};
    CHECK_THROWS_AS(samples_per_rank(10, bad), Error);
  }

  TEST_CASE("drop_last drops the short batch at the end of each epoch") {
    LoaderOptions o = small_options();
    o.drop_last = true;
    o.epochs = 2;
    Loader loader(make_source(103), SampleTransform(seeded_copy), o);
    CHECK(loader.batches_per_epoch() == 12);
    int64_t batches = 0;
    std::set<int64_t> epoch0;
    while (std::optional<Batch> b = loader.next()) {
      CHECK(b->rows() == 8);
      if (b->epoch == 0) epoch0.insert(b->indices.begin(), b->indices.end());
      ++batches;
    }
    CHECK(batches == 24);
    CHECK(epoch0.size() == 96);
    CHECK_FALSE(loader.next().has_value());  // stays at the end
    LoaderOptions tiny = small_options();
    tiny.drop_last = true;
    CHECK_THROWS_WITH_AS(Loader(make_source(5), SampleTransform(seeded_copy), tiny), doctest::Contains("not one batch"),
                         Error);
  }

  TEST_CASE("a resumed loader continues where the full run was") {
    LoaderOptions o = small_options();
    Loader full(make_source(40), SampleTransform(seeded_copy), o);
    const Seen all = take(full, 12);  // 5 batches per epoch: epochs 0, 1 and two of epoch 2
    o.start_epoch = 1;
    o.start_step = 3;
    Loader resumed(make_source(40), SampleTransform(seeded_copy), o);
    const Seen tail = take(resumed, 4);
    for (size_t k = 0; k < 4; ++k) {
      CHECK(tail.at[k] == all.at[8 + k]);
      CHECK(tail.indices[k] == all.indices[8 + k]);
      CHECK(tail.images[k] == all.images[8 + k]);
    }
  }

  TEST_CASE("a consumer that stops early, or never starts, shuts the loader down cleanly") {
    auto slow = [](const Sample& s, uint64_t seed, uint64_t index, float* out) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      seeded_copy(s, seed, index, out);
    };
    finishes_within(20, [&] { Loader never_used(make_source(200), SampleTransform(slow), small_options(4)); },
                    "destroying an unused loader");
    finishes_within(20, [&] {
      Loader loader(make_source(200), SampleTransform(slow), small_options(4));
      loader.next();
      loader.next();
    }, "destroying a loader after two batches");
    // A batch kept after its loader is gone stays valid: the ring outlives the loader.
    std::optional<Batch> kept;
    finishes_within(20, [&] {
      Loader loader(make_source(50), SampleTransform(seeded_copy), small_options(2));
      kept = loader.next();
    }, "destroying a loader while its batch is held");
    REQUIRE(kept.has_value());
    const int64_t first = kept->indices[0];
    CHECK(kept->images.data<float>()[0] == static_cast<float>(first));
    kept.reset();
  }

  TEST_CASE("an exception in a worker reaches the consumer with the sample's index and id") {
    const int64_t bad = 42;
    auto failing = [bad](const Sample& s, uint64_t seed, uint64_t index, float* out) {
      if (static_cast<int64_t>(index) == bad) throw Error("band B03 is all nodata");
      seeded_copy(s, seed, index, out);
    };
    finishes_within(20, [&] {
      Loader loader(make_source(100), SampleTransform(failing), small_options(2));
      std::string message;
      try {
        for (int i = 0; i < 1000; ++i) loader.next();
      } catch (const Error& e) {
        message = e.what();
      }
      CHECK(message.find("sample 42") != std::string::npos);
      CHECK(message.find("'sample-42'") != std::string::npos);
      CHECK(message.find("band B03 is all nodata") != std::string::npos);
      CHECK_THROWS_AS(loader.next(), Error);  // the loader stays failed
    }, "a failing loader");
  }

  TEST_CASE("holding every ring slot while asking for more is an error, not a hang") {
    LoaderOptions o = small_options();
    o.prefetch = 2;
    finishes_within(20, [&] {
      Loader loader(make_source(64), SampleTransform(seeded_copy), o);
      std::optional<Batch> a = loader.next(), b = loader.next();
      CHECK_THROWS_WITH_AS(loader.next(), doctest::Contains("still holds"), Error);
      a.reset();
      CHECK(loader.next().has_value());  // one slot back: the stream goes on
    }, "a consumer holding the ring");
  }

  TEST_CASE("on the CPU the batch is the ring's host buffer, and a steady state allocates nothing") {
    LoaderOptions o = small_options();
    const PinnedStats before = pinned_stats();
    Loader loader(make_source(96), SampleTransform(seeded_copy), o);
    const PinnedStats built = pinned_stats();
    CHECK(built.allocs - before.allocs == 2 * o.prefetch);  // images + labels per slot
    CHECK(built.page_locked_bytes == before.page_locked_bytes);  // the CPU device pins nothing
    take(loader, 3);  // warm up
    const int64_t pool_raw = pool_for(Device::cpu()).stats().raw_allocs;
    std::set<const void*> buffers;
    for (int64_t k = 0; k < 5 * loader.batches_per_epoch(); ++k) {
      const std::optional<Batch> b = loader.next();
      CHECK(b->images.raw() == b->host_images.raw());  // no copy
      buffers.insert(b->images.raw());
    }
    CHECK(buffers.size() == static_cast<size_t>(o.prefetch));  // the same K buffers, reused
    CHECK(pinned_stats().allocs == built.allocs);
    CHECK(pool_for(Device::cpu()).stats().raw_allocs == pool_raw);
    const LoaderStats st = loader.stats();
    CHECK(st.batches == 3 + 5 * loader.batches_per_epoch());
    CHECK(st.samples == st.batches * 8);
    CHECK(st.samples_per_s > 0);
    CHECK(st.mb_per_s > 0);
  }

  TEST_CASE("shards are read zero-copy through views, or decoded into samples, with the same batches") {
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("rsd_test_loader_" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    const int64_t n = 37;
    {
      DatasetWriter writer(dir.string(), layout_of(make_sample(0), "test"), 10);  // 4 shards
      for (int64_t i = 0; i < n; ++i) writer.append(make_sample(i));
      writer.finish();
    }
    auto source = std::make_shared<ShardSource>(dir.string());
    CHECK(source->size() == n);
    LoaderOptions o = small_options();
    o.epochs = 1;
    Loader by_view(source, copy_pixels_transform(o.sample_shape), o);
    Loader by_sample(source, SampleTransform([](const Sample& s, uint64_t, uint64_t, float* out) {
                       std::copy(s.s2->pixels.begin(), s.s2->pixels.end(), out);
                     }), o);
    Loader in_memory(make_source(n), copy_pixels_transform(o.sample_shape), o);
    while (std::optional<Batch> a = by_view.next()) {
      const std::optional<Batch> b = by_sample.next(), c = in_memory.next();
      CHECK(a->indices == c->indices);
      CHECK(a->ids == c->ids);
      CHECK(a->images.to_host_doubles() == c->images.to_host_doubles());  // bit-exact
      CHECK(b->images.to_host_doubles() == c->images.to_host_doubles());
      CHECK(a->labels.to_host_doubles() == c->labels.to_host_doubles());
    }

    // A corrupted record: found by default (every reader of shard records verifies), and named by
    // the loader's error: the shard, the record, the sample, and what to do.
    const std::string shard0 = source->dataset().shard(0).path();
    const int64_t offset = source->dataset().shard(0).data_offset() + 3 * source->dataset().shard(0).record_bytes() + 5;
    source.reset();
    {
      std::fstream f(shard0, std::ios::in | std::ios::out | std::ios::binary);
      f.seekg(offset);
      const char byte = static_cast<char>(f.get() ^ 0xFF);
      f.seekp(offset);
      f.put(byte);
    }
    o.shuffle = false;
    Loader checked(std::make_shared<ShardSource>(dir.string()), copy_pixels_transform(o.sample_shape), o);
    std::string error;
    try {
      checked.next();
    } catch (const Error& e) {
      error = e.what();
    }
    CHECK(error.find(shard0) != std::string::npos);
    CHECK(error.find("record 3 ") != std::string::npos);
    CHECK(error.find("sample-3") != std::string::npos);
    CHECK(error.find("CRC32C") != std::string::npos);
    CHECK(error.find("rsd info --verify " + dir.string()) != std::string::npos);
    CHECK(error.find("rsd pack") != std::string::npos);
    // Verification off (what `rsd info --verify` itself uses to look at a damaged record): read silently.
    Loader unchecked(std::make_shared<ShardSource>(dir.string(), false), copy_pixels_transform(o.sample_shape), o);
    CHECK_NOTHROW(unchecked.next());
    std::filesystem::remove_all(dir);
  }

  TEST_CASE("loader: bad options are errors that say what is wrong") {
    LoaderOptions o = small_options();
    o.sample_shape = {3, 2};
    CHECK_THROWS_WITH_AS(Loader(make_source(10), SampleTransform(seeded_copy), o), doctest::Contains("(H, W, C)"), Error);
    o = small_options();
    o.workers = 0;
    CHECK_THROWS_WITH_AS(Loader(make_source(10), SampleTransform(seeded_copy), o), doctest::Contains("workers"), Error);
    o = small_options();
    o.start_step = 2;
    CHECK_THROWS_WITH_AS(Loader(make_source(10), SampleTransform(seeded_copy), o), doctest::Contains("start_step"), Error);
    if (cuda_device_count() == 0) {
      o = small_options();
      o.device = Device::cuda(0);
      CHECK_THROWS_WITH_AS(Loader(make_source(10), SampleTransform(seeded_copy), o), doctest::Contains("cuda:0"), Error);
    }
  }
}

// The loader on a GPU (data/loader.h): batches uploaded on the copy stream equal the host batches
// and the CPU loader's, the ring is page-locked and allocated once, and a slot is never refilled
// while the compute stream still reads its batch.
namespace {

constexpr int64_t kGpuH = 9, kGpuW = 7, kGpuC = 5;  // odd sizes: uploads of sizes that are no tile multiple

std::shared_ptr<const SampleSource> gpu_test_source(int64_t n) {
  std::vector<Sample> v;
  for (int64_t i = 0; i < n; ++i) {
    Sample s;
    s.id = "gpu-" + std::to_string(i);
    Raster r;
    r.bands = {"B02", "B03", "B04", "B08", "VV"};
    r.height = kGpuH;
    r.width = kGpuW;
    for (int64_t e = 0; e < kGpuH * kGpuW * kGpuC; ++e) r.pixels.push_back(static_cast<float>(i * 1000 + e));
    r.valid.assign(r.pixels.size(), 1);
    s.s2 = r;
    s.labels.class_index = static_cast<int32_t>(i % 10);
    v.push_back(std::move(s));
  }
  return std::make_shared<InMemorySource>(std::move(v));
}

// An "augmentation" that depends on the per-sample seed, so both loaders must agree on seeds too.
void seeded(const SampleView& s, uint64_t seed, uint64_t, float* out) {
  const int64_t n = s.s2.numel();
  for (int64_t e = 0; e < n; ++e) out[e] = s.s2.pixels[e] + static_cast<float>(seed % 97);
}

LoaderOptions gpu_options(Device d) {
  LoaderOptions o;
  o.batch_size = 6;
  o.sample_shape = {kGpuH, kGpuW, kGpuC};
  o.workers = 3;
  o.prefetch = 3;
  o.seed = 77;
  o.device = d;
  return o;
}

}  // namespace

TEST_SUITE("loader" * rsd::test::on_gpu()) {
  TEST_CASE("loader on CUDA: device batches equal the host batches and the CPU loader's") {
    const auto source = gpu_test_source(53);  // 9 batches per epoch, the last of 5 rows
    Loader gpu(source, ViewTransform(seeded), gpu_options(Device::cuda(0)));
    Loader cpu(source, ViewTransform(seeded), gpu_options(Device::cpu()));
    CHECK(pinned_stats().page_locked_bytes > 0);
    for (int64_t k = 0; k < 3 * gpu.batches_per_epoch(); ++k) {
      CAPTURE(k);
      const std::optional<Batch> g = gpu.next(), c = cpu.next();
      REQUIRE(g.has_value());
      CHECK(g->images.device() == Device::cuda(0));
      CHECK(g->labels.device() == Device::cuda(0));
      CHECK(g->host_images.device() == Device::cpu());
      CHECK(g->images.shape() == c->images.shape());
      CHECK(g->indices == c->indices);
      const std::vector<double> dev = g->images.to_host_doubles();
      CHECK(dev == g->host_images.to_host_doubles());  // the upload is exact
      CHECK(dev == c->images.to_host_doubles());       // and the same batch as on the CPU
      CHECK(g->labels.to_host_doubles() == c->labels.to_host_doubles());
    }
  }

  TEST_CASE("loader on CUDA: a slot is not overwritten while queued compute still reads it") {
    // Queue a device copy of every batch on the compute stream and drop the batch at once, without
    // synchronizing: the next upload into that slot must wait for the copy (the release event).
    const auto source = gpu_test_source(200);
    LoaderOptions o = gpu_options(Device::cuda(0));
    o.prefetch = 2;
    Loader gpu(source, ViewTransform(seeded), o);
    Loader cpu(source, ViewTransform(seeded), gpu_options(Device::cpu()));
    std::vector<Tensor> copies;
    for (int64_t k = 0; k < 60; ++k) {
      std::optional<Batch> b = gpu.next();
      Tensor y = Tensor::empty(b->images.shape(), DType::f32, Device::cuda(0));
      y.copy_from(b->images);  // on the compute stream, after the upload (the stream waits on it)
      copies.push_back(y);
    }
    synchronize(Device::cuda(0));
    for (size_t k = 0; k < copies.size(); ++k) {
      CAPTURE(k);
      CHECK(copies[k].to_host_doubles() == cpu.next()->images.to_host_doubles());
    }
  }

  TEST_CASE("loader on CUDA: the ring is allocated once, and a batch outlives its loader") {
    const auto source = gpu_test_source(40);
    const PinnedStats before = pinned_stats();
    std::optional<Batch> kept;
    {
      Loader gpu(source, ViewTransform(seeded), gpu_options(Device::cuda(0)));
      const PinnedStats built = pinned_stats();
      CHECK(built.allocs - before.allocs == 2 * 3);
      CHECK(built.page_locked_bytes > before.page_locked_bytes);
      for (int k = 0; k < 4; ++k) gpu.next();
      const int64_t device_raw = pool_for(Device::cuda(0)).stats().raw_allocs;
      for (int k = 0; k < 30; ++k) gpu.next();
      CHECK(pinned_stats().allocs == built.allocs);
      CHECK(pool_for(Device::cuda(0)).stats().raw_allocs == device_raw);
      kept = gpu.next();
    }
    Loader cpu(source, ViewTransform(seeded), gpu_options(Device::cpu()));
    std::optional<Batch> expect;
    for (int k = 0; k < 35; ++k) expect = cpu.next();
    CHECK(kept->images.to_host_doubles() == expect->images.to_host_doubles());
    kept.reset();  // frees the ring: the last reference
    CHECK(pinned_stats().page_locked_bytes == before.page_locked_bytes);
  }
}
