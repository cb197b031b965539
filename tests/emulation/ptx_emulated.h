// The emulator's definitions of the PTX wrappers in kernels/ptx.cuh, same names and signatures;
// translate_cu.py includes this file where a kernel includes "ptx.cuh". The semantics (fragment
// layouts, the completion rule of cp.async groups) are implemented in tests/emulation/simt.cpp
// from the PTX ISA, independently of the kernels that use them.
#pragma once
#include <cstdint>

#include "tests/emulation/simt.h"

namespace rsd::kernels {

inline void cp_async16(void* dst, const void* src, bool valid) { ::rsd::emu::async_copy16(dst, src, valid); }
inline void cp_async_commit() { ::rsd::emu::async_commit(); }
template <int kPending>
inline void cp_async_wait() {
  ::rsd::emu::async_wait(kPending);
}
inline void ldsm_x4(uint32_t (&r)[4], const void* p) { ::rsd::emu::ldmatrix_x4(r, p, false); }
inline void ldsm_x4_trans(uint32_t (&r)[4], const void* p) { ::rsd::emu::ldmatrix_x4(r, p, true); }
inline void mma_bf16(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  ::rsd::emu::mma_m16n8k16_bf16(c, a, b0, b1);
}

}  // namespace rsd::kernels
