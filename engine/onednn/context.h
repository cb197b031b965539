// The oneDNN CPU backend's shared state: the CPU engine, a stream per thread, the primitive cache
// (a primitive is built once per shape, as the cuDNN path caches its plans) and the scratchpad.
// Only in builds with oneDNN (RSD_HAVE_ONEDNN); engine/ops know nothing of it but the kernel table.
#pragma once
#include <oneapi/dnnl/dnnl.hpp>

#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "engine/tensor.h"

namespace rsd::onednn {

dnnl::engine& cpu_engine();
// This thread's stream: streams are not shared between threads (the loader and embedding
// workers run ops too).
dnnl::stream& thread_stream();

// An f32 memory descriptor; f32 memory over a tensor's storage in `tag`'s layout (no copy).
dnnl::memory::desc f32_desc(const dnnl::memory::dims& dims, dnnl::memory::format_tag tag);
dnnl::memory wrap(const Tensor& t, const dnnl::memory::dims& dims, dnnl::memory::format_tag tag);

// The buffers a thread reuses between calls, one per use: the primitives' scratchpad (user
// scratchpad mode: primitives share no library-owned buffer, so threads may run one at once), the
// weights in a convolution's blocked layout, batch norm's variance and unused shift,
// activations in a blocked layout.
enum class ThreadBuffer {
  scratchpad,
  forward_weights,
  data_weights,
  filter_weights,
  variance,
  shift,
  blocked_src,  // a Winograd convolution's input and output in oneDNN's blocked layout
  blocked_dst,
  count
};
// This thread's buffer for `use`, grown to hold md, as memory of md.
dnnl::memory thread_buffer(ThreadBuffer use, const dnnl::memory::desc& md);

// A primitive with the descriptor it was built from.
template <typename PrimitiveDesc, typename Primitive>
struct Built {
  PrimitiveDesc pd;
  Primitive primitive;
};

// Primitives built on first use of a key (their shape) and kept for the process.
template <typename Entry>
class PrimitiveCache {
 public:
  const Entry& get(const std::string& key, const std::function<Entry()>& build);

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

template <typename Entry>
const Entry& PrimitiveCache<Entry>::get(const std::string& key, const std::function<Entry()>& build) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) it = entries_.emplace(key, build()).first;
  return it->second;  // unordered_map nodes never move: the reference outlives the lock
}

// Primitive attributes every rsd primitive uses: user scratchpad, f32 math (no bf16 down-convert).
dnnl::primitive_attr default_attr();

// Sizes this thread's OpenMP pool (oneDNN's primitives and GEMM, rsd's own parallel loops in
// engine/onednn) to the thread budget; execute calls it, and so must a loop or GEMM outside it.
void apply_thread_budget();

// Runs a primitive on this thread's stream, with this thread's scratchpad, and waits (rsd's CPU
// ops are synchronous).
void execute(const dnnl::primitive& p, std::unordered_map<int, dnnl::memory> args);

}  // namespace rsd::onednn
