#include "engine/op.h"

#include <atomic>
#include <cstdlib>
#include <string>

namespace rsd {

namespace {

// The default: the fastest CPU backend built in, or RSD_CPU_BACKEND's choice.
Backend default_cpu_backend() {
  if (const char* env = std::getenv("RSD_CPU_BACKEND")) {
    try {
      return parse_cpu_backend(env);
    } catch (const Error& e) {
      throw Error(str_cat("the environment variable RSD_CPU_BACKEND: ", e.what()));
    }
  }
  return RSD_HAVE_ONEDNN ? Backend::onednn : Backend::cpu;
}

// For the whole process: worker threads (embedding, the loader) run ops too. -1: not chosen yet.
std::atomic<int> g_cpu_backend{-1};

}  // namespace

bool cpu_backend_available(Backend b) { return b == Backend::cpu || (b == Backend::onednn && RSD_HAVE_ONEDNN); }

Backend parse_cpu_backend(const std::string& name) {
  Backend b;
  if (name == "reference") {
    b = Backend::cpu;
  } else if (name == "onednn") {
    b = Backend::onednn;
  } else {
    throw Error(str_cat("unknown CPU backend '", name, "': use reference or onednn"));
  }
  RSD_CHECK(cpu_backend_available(b), "this build of rsd has no oneDNN backend (build with libdnnl-dev installed); "
                                      "use reference");
  return b;
}

const char* backend_name(Backend b) {
  switch (b) {
    case Backend::cpu: return "CPU (reference)";
    case Backend::cuda: return "CUDA";
    case Backend::onednn: return "oneDNN CPU";
  }
  return "unknown";
}

Backend selected_cpu_backend() {
  int b = g_cpu_backend.load(std::memory_order_relaxed);
  if (b < 0) {
    int unset = -1;
    g_cpu_backend.compare_exchange_strong(unset, static_cast<int>(default_cpu_backend()));
    b = g_cpu_backend.load(std::memory_order_relaxed);
  }
  return static_cast<Backend>(b);
}

CpuBackendScope::CpuBackendScope(Backend b) : previous_(selected_cpu_backend()) {
  RSD_CHECK(b != Backend::cuda && cpu_backend_available(b), "CpuBackendScope: ", backend_name(b),
            " is not a CPU backend of this build");
  g_cpu_backend.store(static_cast<int>(b), std::memory_order_relaxed);
}

CpuBackendScope::~CpuBackendScope() { g_cpu_backend.store(static_cast<int>(previous_), std::memory_order_relaxed); }

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
