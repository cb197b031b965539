#include "tests/emulation/fiber_context.h"

#include <cstdint>

#if defined(__x86_64__)

// rsd_emu_switch(save, load): pushes the System V callee-saved registers, stores the stack
// pointer in *save, loads `load` and pops the same registers from there; `ret` then continues
// wherever that stack was suspended (or at a new fiber's entry, see make_fiber). MXCSR and the
// x87 control word are callee-saved too, but nothing here changes them.
extern "C" void rsd_emu_switch(void** save, void* load);
asm(R"(
  .text
  .p2align 4
  .globl rsd_emu_switch
  .type rsd_emu_switch, @function
rsd_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size rsd_emu_switch, .-rsd_emu_switch
)");

namespace rsd::emu {

void make_fiber(FiberContext& ctx, void* stack, size_t bytes, void (*entry)()) {
  // From the 16-byte aligned top: a null return address for entry (it never returns), entry's
  // address for rsd_emu_switch's `ret`, and six zero registers to pop. At entry the stack pointer
  // is then 8 mod 16, as after a call.
  auto top = (reinterpret_cast<uintptr_t>(stack) + bytes) & ~uintptr_t{15};
  void** sp = reinterpret_cast<void**>(top);
  *--sp = nullptr;
  *--sp = reinterpret_cast<void*>(entry);
  for (int i = 0; i < 6; ++i) *--sp = nullptr;
  ctx.sp = sp;
}

void switch_fiber(FiberContext& from, FiberContext& to) { rsd_emu_switch(&from.sp, to.sp); }

}  // namespace rsd::emu

#else

namespace rsd::emu {

void make_fiber(FiberContext& ctx, void* stack, size_t bytes, void (*entry)()) {
  getcontext(&ctx.uc);
  ctx.uc.uc_stack.ss_sp = stack;
  ctx.uc.uc_stack.ss_size = bytes;
  ctx.uc.uc_link = nullptr;
  makecontext(&ctx.uc, entry, 0);
}

void switch_fiber(FiberContext& from, FiberContext& to) { swapcontext(&from.uc, &to.uc); }

}  // namespace rsd::emu

#endif
