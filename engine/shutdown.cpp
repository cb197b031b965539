#include "engine/shutdown.h"

#include <atomic>
#include <cstdio>
#include <exception>
#include <mutex>
#include <vector>

namespace rsd {

namespace {

struct Hook {
  ShutdownPhase phase;
  std::string what;
  std::function<void()> fn;
};

// Function-local statics: they outlive every object that registers a hook from its constructor.
std::mutex& hooks_mutex() {
  static std::mutex* m = new std::mutex;  // never destroyed: shutdown may run from std::atexit
  return *m;
}
std::vector<Hook>& hooks() {
  static std::vector<Hook>* h = new std::vector<Hook>;
  return *h;
}
std::atomic<bool> g_shut_down{false};

void run_hook(const Hook& h) noexcept {
  try {
    h.fn();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rsd: warning: at shutdown, %s failed: %s\n", h.what.c_str(), e.what());
  } catch (...) {
    std::fprintf(stderr, "rsd: warning: at shutdown, %s failed\n", h.what.c_str());
  }
}

}  // namespace

void on_shutdown(ShutdownPhase phase, std::string what, std::function<void()> fn) {
  Hook h{phase, std::move(what), std::move(fn)};
  {
    std::lock_guard<std::mutex> lock(hooks_mutex());
    if (!g_shut_down.load()) {
      hooks().push_back(std::move(h));
      return;
    }
  }
  run_hook(h);
}

void shutdown() noexcept {
  if (g_shut_down.exchange(true)) return;
  std::vector<Hook> todo;
  {
    std::lock_guard<std::mutex> lock(hooks_mutex());
    todo.swap(hooks());
  }
  for (const ShutdownPhase phase : {ShutdownPhase::synchronize, ShutdownPhase::memory, ShutdownPhase::contexts}) {
    for (const Hook& h : todo) {
      if (h.phase == phase) run_hook(h);
    }
  }
}

bool is_shut_down() noexcept { return g_shut_down.load(); }

}  // namespace rsd
