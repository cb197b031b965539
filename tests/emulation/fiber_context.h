// Cooperative execution contexts for the kernel emulator's fibers: a context is a suspended stack;
// switch_fiber saves the running one and resumes another. On x86-64 a switch is a dozen
// instructions (the callee-saved registers and the stack pointer); elsewhere it falls back to
// ucontext, whose swapcontext also saves the signal mask with a system call (several times slower).
#pragma once
#include <cstddef>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

namespace rsd::emu {

struct FiberContext {
#if defined(__x86_64__)
  void* sp = nullptr;
#else
  ucontext_t uc;
#endif
};

// Prepares ctx to run entry() on the stack [stack, stack + bytes) at its first resumption.
// entry must never return: it ends by switching away for good.
void make_fiber(FiberContext& ctx, void* stack, size_t bytes, void (*entry)());

// Saves the running context in `from` and resumes `to`; returns when something resumes `from`.
void switch_fiber(FiberContext& from, FiberContext& to);

}  // namespace rsd::emu
