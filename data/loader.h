// The training data loader: worker threads read samples from a SampleSource and run a transform
// (decode + augment) straight into a ring of batch buffers; the consumer takes finished batches in
// order with next().
//
//   workers --(claim sample g.k)--> slot g % K: host buffer (page-locked on a GPU run)
//        last sample of batch g done --> [GPU] upload on the copy stream --> slot ready
//   next() --> batch g (waits only if it is not ready yet) --> Batch; dropping it frees the slot
//
// - Ring and backpressure: K = options.prefetch slots, allocated once; batch g always goes to slot
//   g % K, so at most K batches are being filled, waiting or held by the consumer, and workers
//   block when the consumer falls behind. A Batch's tensors keep their slot until the last of them
//   is destroyed: the consumer may keep at most K - 1 batches alive while asking for the next one
//   (asking for batch g while still holding batch g - K, whose slot it needs, would wait forever:
//   it is an rsd::Error instead).
// - Determinism: batch g is (epoch, step) = (g / B, g % B) with B batches per epoch; its rows are
//   fixed by rank_indices (data/sampler.h) and each row's transform gets sample_seed(seed, epoch,
//   index), so batches are the same whatever the number of workers or their timing. Workers claim
//   one row at a time, in batch order, so a slow sample delays only its own batch's completion.
//   An epoch's order is computed once, by the worker that starts its first batch.
// - Devices: on the CPU the Batch wraps the host buffer (no copy). On a GPU the slot also holds
//   device memory; the worker that completes a batch queues its upload on a dedicated copy stream
//   (engine/copy_stream.h), and next() makes the device's compute stream wait for that upload on
//   the GPU, so the copy of batch g + 1 overlaps the compute on batch g. Dropping the batch records
//   the point on the compute stream after which the slot may be overwritten.
// - Errors: an exception in a worker stops the loader; the consumer's next call to next() throws an
//   rsd::Error naming the sample (dataset index and id), its epoch and the original message.
// - Shutdown: the destructor stops and joins the workers, whatever the consumer did; batches still
//   held stay valid (the ring's memory lives until the last of them is dropped).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "data/sample.h"
#include "data/sample_source.h"
#include "data/sampler.h"
#include "engine/tensor.h"

namespace rsd::data {

struct LoaderOptions {
  int64_t batch_size = 32;
  Shape sample_shape;           // (H, W, C): what the transform writes for one sample
  int workers = 2;              // decode + augment threads
  int prefetch = 4;             // K: ring slots (batches filling, ready or held)
  uint64_t seed = 0;
  bool shuffle = true;          // false: dataset order (still split between ranks)
  bool drop_last = false;       // false: the epoch's last batch may be smaller
  RankSplit split;              // rank, world size and what to do with the remainder
  Device device = Device::cpu();
  bool labels = true;           // Batch::labels from each sample's class_index (-1 when none)
  int64_t start_epoch = 0;      // resume: the first batch is (start_epoch, start_step)
  int64_t start_step = 0;
  int64_t epochs = 0;           // next() returns nullopt after epoch `epochs` - 1; 0: never ends
  double rate_window_s = 10.0;  // sliding window of the throughput counter
};

struct Batch {
  Tensor images;                  // (n, H, W, C) f32 on options.device, n <= batch_size
  Tensor labels;                  // (n) i32 on options.device; undefined unless options.labels
  Tensor host_images;             // the host buffer the images were built in (== images on the CPU)
  std::vector<int64_t> indices;   // dataset index of each row
  std::vector<std::string> ids;   // sample id of each row
  int64_t epoch = 0, step = 0;    // step: batch number within the epoch
  int64_t rows() const { return static_cast<int64_t>(indices.size()); }
};

struct LoaderStats {
  double samples_per_s = 0;  // delivered by next(), over the sliding window
  double mb_per_s = 0;       // batch bytes (images + labels) delivered, 1 MB = 1e6 bytes
  int64_t samples = 0;       // delivered since the start
  int64_t batches = 0;
  double wait_s = 0;         // time next() spent waiting for workers (the loader-bound time)
};

// A transform writes one sample's tensor data, prod(sample_shape) floats, to `out`. `seed` is the
// sample's seed for this epoch (sample_seed), `index` its dataset index. It runs on worker threads,
// several at once: it must not touch shared mutable state.
using SampleTransform = std::function<void(const Sample& sample, uint64_t seed, uint64_t index, float* out)>;
// The same on a borrowed view: zero-copy when the source has views (memory-mapped shards).
using ViewTransform = std::function<void(const SampleView& sample, uint64_t seed, uint64_t index, float* out)>;

// Copies the S2 raster (the S1 raster when there is no S2) unchanged: sample_shape must be its
// (H, W, C). A memcpy per sample.
ViewTransform copy_pixels_transform(const Shape& sample_shape);

class Loader {
 public:
  Loader(std::shared_ptr<const SampleSource> source, SampleTransform transform, const LoaderOptions& options);
  Loader(std::shared_ptr<const SampleSource> source, ViewTransform transform, const LoaderOptions& options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // The next batch in order, or nullopt after the last epoch. Throws a worker's error.
  std::optional<Batch> next();

  int64_t batches_per_epoch() const;
  int64_t samples_per_epoch() const;  // this rank's share
  LoaderStats stats() const;
  const LoaderOptions& options() const;
  // Bytes of the ring's host buffers (and as many on the device on a GPU run).
  size_t ring_bytes() const;

  struct State;  // shared with the batches handed out, which may outlive the loader

 private:
  void start(std::shared_ptr<const SampleSource> source, SampleTransform st, ViewTransform vt,
             const LoaderOptions& options);
  // Stops and joins the workers (the destructor, or a failed start).
  void shutdown() noexcept;
  std::shared_ptr<State> state_;
  std::vector<std::thread> workers_;
};

}  // namespace rsd::data
