#include "engine/scalar_readback.h"

#include <cstring>

#include "engine/backend.h"
#include "engine/copy.h"
#include "engine/error.h"

#if RSD_HAVE_CUDA
#include "engine/cuda/readback.h"
#endif

namespace rsd {

namespace {
constexpr size_t kSlotBytes = 32 * 8;  // 32 elements of at most 8 bytes
}  // namespace

struct ScalarReadback::Slot {
  PinnedBuffer host;
  void* event = nullptr;  // CUDA only
  std::vector<std::pair<DType, int64_t>> layout;  // each tensor's dtype and element count
};

ScalarReadback::ScalarReadback(Device device, int slots) : device_(device) {
  RSD_CHECK(slots >= 1, "ScalarReadback: at least one slot, got ", slots);
  for (int i = 0; i < slots; ++i) {
    auto s = std::make_unique<Slot>();
    s->host = PinnedBuffer(kSlotBytes, device.is_cuda());
    if (device.is_cuda()) RSD_CUDA_CALL(s->event = cuda::create_event(device.index));
    slots_.push_back(std::move(s));
  }
}

ScalarReadback::~ScalarReadback() {
#if RSD_HAVE_CUDA
  for (auto& s : slots_) cuda::destroy_event(s->event);
#endif
}

void ScalarReadback::enqueue(const std::vector<Tensor>& scalars) {
  RSD_CHECK(pending() < static_cast<int>(slots_.size()), "ScalarReadback: ", pending(),
            " sets pending already; collect one first");
  Slot& slot = *slots_[static_cast<size_t>(next_)];
  slot.layout.clear();
  size_t offset = 0;
  for (const Tensor& t : scalars) {
    RSD_CHECK(t.device() == device_, "ScalarReadback: ", t.describe(), " is not on ", device_.str());
    const size_t bytes = static_cast<size_t>(t.numel()) * dtype_size(t.dtype());
    RSD_CHECK(offset + bytes <= kSlotBytes, "ScalarReadback: more than ", kSlotBytes, " bytes in one set");
    char* dst = static_cast<char*>(slot.host.data()) + offset;
    if (device_.is_cuda()) {
      RSD_CUDA_CALL(cuda::copy_to_host_async(t, dst));
    } else {
      std::memcpy(dst, t.raw(), bytes);
    }
    slot.layout.emplace_back(t.dtype(), t.numel());
    offset += (bytes + 7) / 8 * 8;  // every entry 8-byte aligned, so collect() reads doubles in place
  }
  if (device_.is_cuda()) RSD_CUDA_CALL(cuda::record_event(slot.event, device_.index));
  pending_.push_back(next_);
  next_ = (next_ + 1) % static_cast<int>(slots_.size());
}

bool ScalarReadback::ready() const {
  RSD_CHECK(!pending_.empty(), "ScalarReadback: nothing pending");
  if (!device_.is_cuda()) return true;
  bool done = true;
  RSD_CUDA_CALL(done = cuda::event_done(slots_[static_cast<size_t>(pending_.front())]->event));
  return done;
}

std::vector<double> ScalarReadback::collect() {
  RSD_CHECK(!pending_.empty(), "ScalarReadback: nothing pending to collect");
  Slot& slot = *slots_[static_cast<size_t>(pending_.front())];
  pending_.pop_front();
  if (device_.is_cuda()) RSD_CUDA_CALL(cuda::wait_event(slot.event));
  std::vector<double> out;
  const char* base = static_cast<const char*>(slot.host.data());
  for (const auto& [dtype, n] : slot.layout) {
    for (int64_t i = 0; i < n; ++i) out.push_back(cpu::load_element(dtype, base, i));
    base += (static_cast<size_t>(n) * dtype_size(dtype) + 7) / 8 * 8;
  }
  return out;
}

}  // namespace rsd
