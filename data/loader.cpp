#include "data/loader.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <limits>
#include <mutex>

#include "engine/allocator.h"
#include "engine/copy_stream.h"
#include "engine/pinned.h"

namespace rsd::data {

namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

enum class SlotState { free, filling, ready, held };

// One batch buffer of the ring. The fields below `state` change under State::mutex; the buffers
// are written by the workers that claimed their rows, each row by exactly one worker.
struct Slot {
  PinnedBuffer images;                  // (N, H, W, C) f32
  PinnedBuffer labels;                  // (N) i32
  Tensor device_images, device_labels;  // GPU runs: the slot's device memory (from the pool)
  std::vector<int64_t> indices;         // (N) dataset index of each row
  std::vector<std::string> ids;         // (N) sample id of each row (capacity reused)
  SlotState state = SlotState::free;
  int64_t batch = -1;                                 // global batch number held
  int64_t rows = 0;                                   // rows of that batch (<= N)
  std::shared_ptr<const std::vector<int64_t>> order;  // the epoch's rank indices
  int64_t first = 0;                                  // row r is order[first + r]
  std::atomic<int64_t> done{0};                       // rows finished
};

// Throughput over a sliding window, in kBuckets time buckets (a fixed amount of memory however
// many batches go by): the rate counts the last kBuckets - 1 buckets and the current partial one.
class RateWindow {
 public:
  RateWindow(Clock::time_point start, double window_s)
      : start_(start), width_s_(std::max(window_s, 1e-3) / (kBuckets - 1)) {}

  void add(Clock::time_point t, int64_t samples, int64_t bytes) {
    const int64_t id = bucket_of(t);
    Bucket& b = buckets_[static_cast<size_t>(id % kBuckets)];
    if (b.id != id) b = Bucket{id, 0, 0};
    b.samples += samples;
    b.bytes += bytes;
  }

  // (samples/s, bytes/s) at `now`.
  std::pair<double, double> rates(Clock::time_point now) const {
    const double elapsed = seconds(now - start_);
    const int64_t current = bucket_of(now);
    const double span = std::min(elapsed, (kBuckets - 1) * width_s_ + (elapsed - current * width_s_));
    if (span <= 0) return {0.0, 0.0};
    double samples = 0, bytes = 0;
    for (const Bucket& b : buckets_) {
      if (b.id > current - kBuckets && b.id <= current) {
        samples += static_cast<double>(b.samples);
        bytes += static_cast<double>(b.bytes);
      }
    }
    return {samples / span, bytes / span};
  }

 private:
  static constexpr int kBuckets = 20;
  struct Bucket {
    int64_t id = -1;
    int64_t samples = 0, bytes = 0;
  };
  int64_t bucket_of(Clock::time_point t) const { return static_cast<int64_t>(seconds(t - start_) / width_s_); }
  Clock::time_point start_;
  double width_s_;
  std::array<Bucket, kBuckets> buckets_{};
};

// The work item of one worker: one row of one batch.
struct Claim {
  int slot = 0;
  int64_t batch = 0, row = 0, index = 0;
  int64_t rows = 0;  // of the batch: read under the lock, since the slot is reused once it is done
};

}  // namespace

struct Loader::State {
  LoaderOptions opt;
  std::shared_ptr<const SampleSource> source;
  SampleTransform sample_transform;  // exactly one of the two is set
  ViewTransform view_transform;
  int64_t sample_numel = 0;
  int64_t per_rank = 0, batches_per_epoch = 0;
  int64_t end_batch = 0;  // one past the last global batch number

  std::vector<std::unique_ptr<Slot>> slots;
  std::unique_ptr<CopyStream> copy;  // GPU runs; declared after slots: destroyed first, it waits
                                     // for the uploads into the slots' memory

  std::mutex mutex;
  std::condition_variable work_cv;   // workers: a slot was freed, or stop
  std::condition_variable ready_cv;  // consumer: a batch is ready, or an error
  bool stop = false;
  std::string error;                 // the first worker error, thrown by next()
  int64_t fill_batch = 0, fill_row = 0;  // the next row to claim
  int64_t out_batch = 0;                 // the next batch next() hands out
  int64_t order_epoch = -1;
  std::shared_ptr<const std::vector<int64_t>> order;  // rank indices of order_epoch

  mutable std::mutex stats_mutex;
  Clock::time_point started = Clock::now();
  RateWindow rate{started, 10.0};
  LoaderStats totals;

  int slot_of(int64_t batch) const { return static_cast<int>(batch % static_cast<int64_t>(slots.size())); }
  int64_t epoch_of(int64_t batch) const { return batch / batches_per_epoch; }
  int64_t step_of(int64_t batch) const { return batch % batches_per_epoch; }
  size_t image_bytes(int64_t rows) const { return static_cast<size_t>(rows * sample_numel) * sizeof(float); }

  // Gives a slot back once the consumer has dropped every tensor of its batch.
  void release(int s) noexcept;
};

namespace {

using State = Loader::State;

void validate(const SampleSource* source, const LoaderOptions& o) {
  RSD_CHECK(source != nullptr, "Loader: no sample source");
  RSD_CHECK(o.batch_size >= 1, "Loader: batch_size must be at least 1, got ", o.batch_size);
  RSD_CHECK(o.sample_shape.size() == 3 && shape_numel(o.sample_shape) > 0, "Loader: sample_shape must be (H, W, C) ",
            "with every size positive, got ", shape_str(o.sample_shape));
  RSD_CHECK(o.workers >= 1, "Loader: workers must be at least 1, got ", o.workers);
  RSD_CHECK(o.prefetch >= 1, "Loader: prefetch must be at least 1, got ", o.prefetch);
  RSD_CHECK(o.start_epoch >= 0 && o.start_step >= 0 && o.epochs >= 0, "Loader: start_epoch ", o.start_epoch,
            ", start_step ", o.start_step, " and epochs ", o.epochs, " must not be negative");
  RSD_CHECK(o.device.is_cpu() || o.device.index < cuda_device_count(), "Loader: device ", o.device.str(),
            " is not available: ", cuda_unavailable_reason());
}

void plan(State& st) {
  const LoaderOptions& o = st.opt;
  const int64_t n = st.source->size();
  st.per_rank = samples_per_rank(n, o.split);
  st.batches_per_epoch = o.drop_last ? st.per_rank / o.batch_size : (st.per_rank + o.batch_size - 1) / o.batch_size;
  RSD_CHECK(st.batches_per_epoch > 0, "Loader: a dataset of ", n, " samples gives rank ", o.split.rank, " of ",
            o.split.world_size, " ", st.per_rank, " samples per epoch, not one batch of ", o.batch_size,
            o.drop_last ? " (drop_last)" : "");
  RSD_CHECK(o.start_step < st.batches_per_epoch, "Loader: start_step ", o.start_step, " is past the epoch's ",
            st.batches_per_epoch, " batches");
  st.sample_numel = shape_numel(o.sample_shape);
  st.fill_batch = st.out_batch = o.start_epoch * st.batches_per_epoch + o.start_step;
  st.end_batch = o.epochs > 0 ? o.epochs * st.batches_per_epoch : std::numeric_limits<int64_t>::max();
  st.rate = RateWindow(st.started, o.rate_window_s);
}

// The ring: K slots of host buffers (page-locked on a GPU run) and their device memory.
void allocate_ring(State& st) {
  const LoaderOptions& o = st.opt;
  const bool gpu = o.device.is_cuda();
  const int64_t n = o.batch_size;
  ArenaSuspend outside_step_arena;  // the ring lives as long as the loader, never in a step arena
  for (int s = 0; s < o.prefetch; ++s) {
    auto slot = std::make_unique<Slot>();
    slot->images = PinnedBuffer(st.image_bytes(n), gpu);
    slot->labels = PinnedBuffer(static_cast<size_t>(n) * sizeof(int32_t), gpu);
    slot->indices.resize(static_cast<size_t>(n));
    slot->ids.resize(static_cast<size_t>(n));
    if (gpu) {
      slot->device_images = Tensor::empty({n * st.sample_numel}, DType::f32, o.device);
      slot->device_labels = Tensor::empty({n}, DType::i32, o.device);
    }
    st.slots.push_back(std::move(slot));
  }
  if (gpu) st.copy = std::make_unique<CopyStream>(o.device, o.prefetch);
}

// The rank indices of an epoch, computed once by whichever worker first needs them.
std::shared_ptr<const std::vector<int64_t>> order_for(State& st, int64_t epoch) {
  if (st.order_epoch != epoch) {
    st.order = std::make_shared<const std::vector<int64_t>>(
        rank_indices(st.source->size(), st.opt.seed, epoch, st.opt.shuffle, st.opt.split));
    st.order_epoch = epoch;
  }
  return st.order;
}

// Under st.mutex: the next row to fill, starting its batch in its slot when that slot is free.
bool try_claim(State& st, Claim& c) {
  if (st.fill_batch >= st.end_batch) return false;
  const int s = st.slot_of(st.fill_batch);
  Slot& slot = *st.slots[static_cast<size_t>(s)];
  if (st.fill_row == 0) {
    if (slot.state != SlotState::free) return false;  // backpressure: the ring is full
    slot.batch = st.fill_batch;
    slot.order = order_for(st, st.epoch_of(st.fill_batch));
    slot.first = st.step_of(st.fill_batch) * st.opt.batch_size;
    slot.rows = std::min(st.opt.batch_size, st.per_rank - slot.first);
    slot.done = 0;
    slot.state = SlotState::filling;
  }
  c.slot = s;
  c.batch = st.fill_batch;
  c.row = st.fill_row;
  c.rows = slot.rows;
  c.index = (*slot.order)[static_cast<size_t>(slot.first + st.fill_row)];
  if (++st.fill_row == slot.rows) {
    ++st.fill_batch;
    st.fill_row = 0;
  }
  return true;
}

// Reads and transforms one sample into its row of the slot.
void fill_row(State& st, const Claim& c, Sample& scratch, SampleView& view) {
  Slot& slot = *st.slots[static_cast<size_t>(c.slot)];
  if (st.copy) st.copy->wait_on_host(c.slot);  // the slot's previous upload has read the buffer
  float* out = static_cast<float*>(slot.images.data()) + c.row * st.sample_numel;
  const uint64_t seed = sample_seed(st.opt.seed, st.epoch_of(c.batch), c.index);
  const auto index = static_cast<uint64_t>(c.index);
  if (st.view_transform) {
    if (!st.source->view(c.index, view)) {
      st.source->read(c.index, scratch);
      view = view_of(scratch);
    }
    st.view_transform(view, seed, index, out);
  } else {
    st.source->read(c.index, scratch);
    st.sample_transform(scratch, seed, index, out);
    view.id = scratch.id;
    view.class_index = scratch.labels.class_index;
  }
  static_cast<int32_t*>(slot.labels.data())[c.row] = view.class_index;
  slot.indices[static_cast<size_t>(c.row)] = c.index;
  slot.ids[static_cast<size_t>(c.row)].assign(view.id.data(), view.id.size());
}

// Records the first error (naming the sample) and stops the workers.
void fail_worker(State& st, const Claim& c, const std::string& what) {
  std::string id = "?";
  try {
    id = st.source->id(c.index);
  } catch (...) {  // the id is only decoration for the message; keep the original error
  }
  {
    std::lock_guard<std::mutex> lock(st.mutex);
    if (st.error.empty())
      st.error = str_cat("loader: sample ", c.index, " (id '", id, "'), epoch ", st.epoch_of(c.batch), " step ",
                         st.step_of(c.batch), ": ", what);
    st.stop = true;
  }
  st.work_cv.notify_all();
  st.ready_cv.notify_all();
}

// The worker that finished a batch's last row: uploads it on a GPU run and marks it ready.
void finish_batch(State& st, int s) {
  Slot& slot = *st.slots[static_cast<size_t>(s)];
  if (st.copy) {
    const size_t label_bytes = static_cast<size_t>(slot.rows) * sizeof(int32_t);
    st.copy->upload(s, {{slot.device_images.raw(), slot.images.data(), st.image_bytes(slot.rows)},
                        {slot.device_labels.raw(), slot.labels.data(), label_bytes}});
  }
  {
    std::lock_guard<std::mutex> lock(st.mutex);
    slot.state = SlotState::ready;
  }
  st.ready_cv.notify_all();
}

// On a CPU run the workers share the cores with the compute threads (the thread budget,
// engine/threads.h): they run at a lower priority (nice +10), so the compute keeps its cores and
// the workers fill the prefetch queue with the cycles it leaves (the compute waits on an empty
// queue, which frees them). On a GPU the compute is on the device: normal priority.
constexpr int kWorkerNice = 10;

void yield_to_compute(const LoaderOptions& o) {
  if (!o.device.is_cpu()) return;
  const auto tid = static_cast<id_t>(syscall(SYS_gettid));
  setpriority(PRIO_PROCESS, tid, std::min(getpriority(PRIO_PROCESS, tid) + kWorkerNice, 19));
}

void worker_loop(State& st) {
  yield_to_compute(st.opt);
  Sample scratch;  // reused: its buffers keep their capacity from sample to sample
  SampleView view;
  for (;;) {
    Claim c;
    {
      std::unique_lock<std::mutex> lock(st.mutex);
      st.work_cv.wait(lock, [&] { return st.stop || try_claim(st, c); });
      if (st.stop) return;
    }
    try {
      fill_row(st, c, scratch, view);
      Slot& slot = *st.slots[static_cast<size_t>(c.slot)];
      if (slot.done.fetch_add(1) + 1 == c.rows) finish_batch(st, c.slot);
    } catch (const std::exception& e) {
      fail_worker(st, c, e.what());
      return;
    } catch (...) {
      fail_worker(st, c, "unknown exception");
      return;
    }
  }
}

// Keeps a slot held while any tensor of its batch is alive.
struct Lease {
  std::shared_ptr<State> state;
  int slot;
  Lease(std::shared_ptr<State> st, int s) : state(std::move(st)), slot(s) {}
  ~Lease() { state->release(slot); }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
};

// A tensor over memory the ring owns; its storage holds the lease instead of an allocator.
Tensor wrap(void* data, const Shape& shape, DType dtype, Device device, const std::shared_ptr<Lease>& lease) {
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->dtype = dtype;
  impl->storage = std::shared_ptr<Storage>(new Storage(), [lease](Storage* s) { delete s; });
  impl->storage->data = data;
  impl->storage->bytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype);
  impl->storage->device = device;
  return Tensor(std::move(impl));
}

Batch make_batch(const std::shared_ptr<State>& state, int s, int64_t g) {
  State& st = *state;
  Slot& slot = *st.slots[static_cast<size_t>(s)];
  const auto lease = std::make_shared<Lease>(state, s);
  const Shape& hwc = st.opt.sample_shape;
  const Shape shape{slot.rows, hwc[0], hwc[1], hwc[2]};
  Batch b;
  b.host_images = wrap(slot.images.data(), shape, DType::f32, Device::cpu(), lease);
  if (st.copy) {
    st.copy->wait_on_compute(s);  // the compute stream waits for the upload, on the GPU
    b.images = wrap(slot.device_images.raw(), shape, DType::f32, st.opt.device, lease);
    if (st.opt.labels) b.labels = wrap(slot.device_labels.raw(), {slot.rows}, DType::i32, st.opt.device, lease);
  } else {
    b.images = b.host_images;
    if (st.opt.labels) b.labels = wrap(slot.labels.data(), {slot.rows}, DType::i32, Device::cpu(), lease);
  }
  const auto rows = static_cast<size_t>(slot.rows);
  b.indices.assign(slot.indices.begin(), slot.indices.begin() + static_cast<std::ptrdiff_t>(rows));
  b.ids.assign(slot.ids.begin(), slot.ids.begin() + static_cast<std::ptrdiff_t>(rows));
  b.epoch = st.epoch_of(g);
  b.step = st.step_of(g);
  return b;
}

}  // namespace

void Loader::State::release(int s) noexcept {
  if (copy) {
    try {
      copy->release(s);
    } catch (const std::exception& e) {  // a destructor path: report, never throw
      std::fprintf(stderr, "rsd: loader: releasing batch slot %d: %s\n", s, e.what());
    }
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    Slot& slot = *slots[static_cast<size_t>(s)];
    slot.state = SlotState::free;
    slot.batch = -1;
  }
  work_cv.notify_all();
}

ViewTransform copy_pixels_transform(const Shape& sample_shape) {
  RSD_CHECK(sample_shape.size() == 3, "copy_pixels_transform: sample_shape must be (H, W, C), got ",
            shape_str(sample_shape));
  return [sample_shape](const SampleView& s, uint64_t, uint64_t, float* out) {
    const PixelView& r = s.s2.present() ? s.s2 : s.s1;
    RSD_CHECK(r.present(), "copy_pixels_transform: sample '", s.id, "' has neither S2 nor S1 pixels");
    const Shape got{r.height, r.width, r.channels};
    RSD_CHECK(got == sample_shape, "copy_pixels_transform: sample '", s.id, "' is ", shape_str(got),
              ", the loader expects ", shape_str(sample_shape));
    std::memcpy(out, r.pixels, static_cast<size_t>(r.numel()) * sizeof(float));
  };
}

Loader::Loader(std::shared_ptr<const SampleSource> source, SampleTransform transform, const LoaderOptions& options) {
  RSD_CHECK(transform != nullptr, "Loader: no transform");
  start(std::move(source), std::move(transform), nullptr, options);
}

Loader::Loader(std::shared_ptr<const SampleSource> source, ViewTransform transform, const LoaderOptions& options) {
  RSD_CHECK(transform != nullptr, "Loader: no transform");
  start(std::move(source), nullptr, std::move(transform), options);
}

void Loader::start(std::shared_ptr<const SampleSource> source, SampleTransform st, ViewTransform vt,
                   const LoaderOptions& options) {
  validate(source.get(), options);
  state_ = std::make_shared<State>();
  state_->opt = options;
  state_->source = std::move(source);
  state_->sample_transform = std::move(st);
  state_->view_transform = std::move(vt);
  plan(*state_);
  allocate_ring(*state_);
  try {
    for (int w = 0; w < options.workers; ++w) workers_.emplace_back(worker_loop, std::ref(*state_));
  } catch (...) {
    shutdown();  // joins the workers already started
    throw;
  }
}

Loader::~Loader() { shutdown(); }

void Loader::shutdown() noexcept {
  if (!state_) return;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stop = true;
  }
  state_->work_cv.notify_all();
  state_->ready_cv.notify_all();
  for (std::thread& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

std::optional<Batch> Loader::next() {
  State& st = *state_;
  const Clock::time_point t0 = Clock::now();
  std::unique_lock<std::mutex> lock(st.mutex);
  if (!st.error.empty()) throw Error(st.error);
  if (st.out_batch >= st.end_batch) return std::nullopt;
  const int64_t g = st.out_batch;
  const int s = st.slot_of(g);
  Slot& slot = *st.slots[static_cast<size_t>(s)];
  // A slot held by the consumer is never freed by a worker: waiting for it would never end.
  st.ready_cv.wait(lock, [&] {
    return !st.error.empty() || slot.state == SlotState::held || (slot.batch == g && slot.state == SlotState::ready);
  });
  if (!st.error.empty()) throw Error(st.error);
  RSD_CHECK(slot.state != SlotState::ready || slot.batch == g, "loader: internal error: slot ", s, " holds batch ",
            slot.batch, " instead of ", g);
  RSD_CHECK(slot.state != SlotState::held, "loader: the consumer still holds batch (epoch ", st.epoch_of(slot.batch),
            ", step ", st.step_of(slot.batch), ") while asking for a batch ", st.opt.prefetch,
            " later: at most prefetch - 1 = ", st.opt.prefetch - 1,
            " batches may be kept alive across next(); drop older batches (or copy what you keep) or raise prefetch");
  slot.state = SlotState::held;
  ++st.out_batch;
  lock.unlock();
  const Clock::time_point t1 = Clock::now();
  Batch b = make_batch(state_, s, g);
  const int64_t bytes = static_cast<int64_t>(st.image_bytes(b.rows())) + (st.opt.labels ? b.rows() * 4 : 0);
  {
    std::lock_guard<std::mutex> stats_lock(st.stats_mutex);
    st.rate.add(t1, b.rows(), bytes);
    st.totals.samples += b.rows();
    st.totals.batches += 1;
    st.totals.wait_s += seconds(t1 - t0);
  }
  return b;
}

int64_t Loader::batches_per_epoch() const { return state_->batches_per_epoch; }
int64_t Loader::samples_per_epoch() const { return state_->per_rank; }
const LoaderOptions& Loader::options() const { return state_->opt; }
size_t Loader::ring_bytes() const {
  return state_->slots.size() * (state_->image_bytes(state_->opt.batch_size) +
                                 static_cast<size_t>(state_->opt.batch_size) * sizeof(int32_t));
}

LoaderStats Loader::stats() const {
  std::lock_guard<std::mutex> lock(state_->stats_mutex);
  LoaderStats s = state_->totals;
  const auto [samples_per_s, bytes_per_s] = state_->rate.rates(Clock::now());
  s.samples_per_s = samples_per_s;
  s.mb_per_s = bytes_per_s / 1e6;
  return s;
}

}  // namespace rsd::data
