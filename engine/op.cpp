#include "engine/op.h"

#include <atomic>
#include <string>

namespace rsd {

namespace {
// For the whole process: worker threads (embedding, the loader) run ops too.
std::atomic<Backend> g_cpu_backend{Backend::cpu};
}  // namespace

const char* backend_name(Backend b) {
  switch (b) {
    case Backend::cpu: return "CPU (reference)";
    case Backend::cuda: return "CUDA";
    case Backend::onednn: return "oneDNN CPU";
  }
  return "unknown";
}

Backend selected_cpu_backend() { return g_cpu_backend.load(std::memory_order_relaxed); }

CpuBackendScope::CpuBackendScope(Backend b) : previous_(selected_cpu_backend()) {
  RSD_CHECK(b != Backend::cuda, "CpuBackendScope: ", backend_name(b), " is not a CPU backend");
  g_cpu_backend.store(b, std::memory_order_relaxed);
}

CpuBackendScope::~CpuBackendScope() { g_cpu_backend.store(previous_, std::memory_order_relaxed); }

const char* variant_name(Variant v) {
  switch (v) {
    case Variant::fused: return "fused";
    case Variant::plain: return "plain";
  }
  return "unknown";
}

Variant parse_variant(const std::string& name) {
  if (name == "fused") return Variant::fused;
  if (name == "plain") return Variant::plain;
  fail("unknown variant '", name, "': expected fused (the one-pass kernel) or plain (simple steps)");
}

}  // namespace rsd
