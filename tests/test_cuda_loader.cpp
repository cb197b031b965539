// The loader on a GPU (data/loader.h): batches uploaded on the copy stream equal the host batches
// and the CPU loader's, the ring is page-locked and allocated once, and a slot is never refilled
// while the compute stream still reads its batch. Part of rsd_cuda_tests (skipped without a GPU).
#include <doctest/doctest.h>

#include <optional>
#include <vector>

#include "data/loader.h"
#include "engine/allocator.h"
#include "engine/pinned.h"

using namespace rsd;
using namespace rsd::data;

namespace {

constexpr int64_t kH = 9, kW = 7, kC = 5;  // odd sizes: uploads of sizes that are no tile multiple

std::shared_ptr<const SampleSource> gpu_test_source(int64_t n) {
  std::vector<Sample> v;
  for (int64_t i = 0; i < n; ++i) {
    Sample s;
    s.id = "gpu-" + std::to_string(i);
    Raster r;
    r.bands = {"B02", "B03", "B04", "B08", "VV"};
    r.height = kH;
    r.width = kW;
    for (int64_t e = 0; e < kH * kW * kC; ++e) r.pixels.push_back(static_cast<float>(i * 1000 + e));
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
  o.sample_shape = {kH, kW, kC};
  o.workers = 3;
  o.prefetch = 3;
  o.seed = 77;
  o.device = d;
  return o;
}

}  // namespace

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
