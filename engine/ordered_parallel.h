// Runs produce(i) for i in [0, n) on worker threads and hands each result to consume(i, result)
// on the calling thread in index order, so the output (shard contents, statistics merged in order)
// is the same whatever the thread count. At most `window` results are produced ahead of the one
// being consumed, which bounds memory. An exception from produce is rethrown at its turn in
// consume order; one from consume stops and joins the workers, then propagates.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace rsd {

template <typename Result, typename Produce, typename Consume>
void ordered_parallel(int64_t n, int threads, int64_t window, Produce produce, Consume consume) {
  if (threads <= 1 || n <= 1) {
    for (int64_t i = 0; i < n; ++i) consume(i, produce(i));
    return;
  }
  struct Slot {
    std::optional<Result> result;
    std::exception_ptr error;
  };
  std::mutex mutex;
  std::condition_variable produced, consumed;
  std::map<int64_t, Slot> ready;
  int64_t next_claim = 0, next_consume = 0;
  bool stop = false;

  auto worker = [&] {
    for (;;) {
      int64_t i = 0;
      {
        std::unique_lock<std::mutex> lock(mutex);
        consumed.wait(lock, [&] { return stop || next_claim >= n || next_claim < next_consume + window; });
        if (stop || next_claim >= n) return;
        i = next_claim++;
      }
      Slot slot;
      try {
        slot.result.emplace(produce(i));
      } catch (...) {
        slot.error = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(mutex);
      ready.emplace(i, std::move(slot));
      produced.notify_all();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
  auto join = [&] {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop = true;
    }
    consumed.notify_all();
    for (std::thread& t : pool) t.join();
  };
  try {
    for (int64_t i = 0; i < n; ++i) {
      Slot slot;
      {
        std::unique_lock<std::mutex> lock(mutex);
        produced.wait(lock, [&] { return ready.count(i) != 0; });
        auto it = ready.find(i);
        slot = std::move(it->second);
        ready.erase(it);
        next_consume = i + 1;
      }
      consumed.notify_all();
      if (slot.error) std::rethrow_exception(slot.error);
      consume(i, std::move(*slot.result));
    }
  } catch (...) {
    join();
    throw;
  }
  join();
}

}  // namespace rsd
