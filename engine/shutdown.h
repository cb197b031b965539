// An explicit end to the engine's use of the devices, before the process exits.
//
// Why: the per-device pools, arenas and CUDA contexts are process-wide objects. Left to static
// destruction, they would call cudaFree / cudnnDestroy after the CUDA runtime has begun to unload
// (cudaErrorCudartUnloading), and an error thrown from a destructor is std::terminate: every GPU
// process would abort after finishing its work. So:
//   - components register their teardown here, in a phase (memory before contexts);
//   - shutdown() runs it once: every device is synchronized, arenas and cached pool blocks are
//     returned, then the cuBLAS/cuDNN handles and streams are destroyed. Main calls it before
//     returning, and the first CUDA context registers it with std::atexit as a safety net (it runs
//     before the runtime's own exit handler, which was registered earlier);
//   - after shutdown, memory released by still-living tensors (statics) goes straight back to the
//     raw allocator, and release paths accept an unloading runtime: nothing on the way out throws.
#pragma once
#include <functional>
#include <string>

namespace rsd {

enum class ShutdownPhase { synchronize = 0, memory = 1, contexts = 2 };

// Registers `fn` to run at shutdown, in its phase (phases in order; within a phase, in order of
// registration). `what` names it in the warning printed if it fails. Registering after shutdown
// runs `fn` at once.
void on_shutdown(ShutdownPhase phase, std::string what, std::function<void()> fn);

// Runs the registered teardown once; later calls do nothing. Never throws: a failing step is
// reported on stderr and the rest still runs.
void shutdown() noexcept;

// True once shutdown() has started.
bool is_shut_down() noexcept;

// Calls shutdown() at the end of its scope (main's first line), on return and on exceptions alike.
struct ShutdownAtExit {
  ShutdownAtExit() = default;
  ~ShutdownAtExit() { shutdown(); }
  ShutdownAtExit(const ShutdownAtExit&) = delete;
  ShutdownAtExit& operator=(const ShutdownAtExit&) = delete;
};

}  // namespace rsd
