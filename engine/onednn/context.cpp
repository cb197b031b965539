#include "engine/onednn/context.h"

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "engine/threads.h"

namespace rsd::onednn {

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& thread_stream() {
  thread_local dnnl::stream stream(cpu_engine());
  return stream;
}

dnnl::memory::desc f32_desc(const dnnl::memory::dims& dims, dnnl::memory::format_tag tag) {
  return dnnl::memory::desc(dims, dnnl::memory::data_type::f32, tag);
}

dnnl::memory wrap(const Tensor& t, const dnnl::memory::dims& dims, dnnl::memory::format_tag tag) {
  return dnnl::memory(f32_desc(dims, tag), cpu_engine(), t.raw());
}

namespace {

// 64-byte aligned host memory: oneDNN's JIT kernels (Winograd's among them) use aligned AVX-512
// loads and stores on the scratchpad and blocked buffers.
struct AlignedBuffer {
  struct Free {
    void operator()(char* p) const { std::free(p); }
  };
  std::unique_ptr<char, Free> data;
  size_t size = 0;
  char* reserve(size_t bytes) {
    if (bytes > size) {
      const size_t rounded = (bytes + 63) / 64 * 64;
      data.reset(static_cast<char*>(std::aligned_alloc(64, rounded)));
      RSD_CHECK(data != nullptr, "oneDNN backend: out of host memory for a ", rounded, "-byte buffer");
      size = rounded;
    }
    return data.get();
  }
};

}  // namespace

dnnl::memory thread_buffer(ThreadBuffer use, const dnnl::memory::desc& md) {
  thread_local AlignedBuffer buffers[static_cast<int>(ThreadBuffer::count)];
  return dnnl::memory(md, cpu_engine(), buffers[static_cast<int>(use)].reserve(std::max<size_t>(md.get_size(), 1)));
}

dnnl::primitive_attr default_attr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

// OpenMP's thread count is per calling thread: each thread that runs oneDNN primitives (the main
// thread, loader and embedding workers) sizes its pool to the budget before its next op.
void apply_thread_budget() {
  thread_local int applied = 0;
  const int budget = thread_budget();
  if (applied == budget) return;
  omp_set_num_threads(budget);
  applied = budget;
}

void execute(const dnnl::primitive& p, std::unordered_map<int, dnnl::memory> args) {
  apply_thread_budget();
  // A weak (non-owning) view of the primitive's descriptor, for its scratchpad size.
  const dnnl::primitive_desc_base pd(const_cast<dnnl_primitive_desc_t>(p.get_primitive_desc()), true);
  args.emplace(DNNL_ARG_SCRATCHPAD, thread_buffer(ThreadBuffer::scratchpad, pd.scratchpad_desc()));
  p.execute(thread_stream(), args);
  thread_stream().wait();
}

}  // namespace rsd::onednn
