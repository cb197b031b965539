// The inline PTX the tiled kernels use, one small wrapper per instruction (nvcc only). Kept in
// one file so that the CPU emulation of the kernels (tests/emulation/ptx_emulated.h) can put its
// own definitions of exactly these functions in their place; a kernel file never writes asm.
//
// Fragment layouts (PTX ISA, "Warp-level matrix fragments"), lane l, g = l / 4, t = l % 4:
//   ldmatrix .x4: lane 8 m + r gives the address of row r of matrix m (16 bytes, 8 b16 values);
//     register m of lane l holds row g, columns 2t and 2t + 1 of matrix m (.trans: rows 2t and
//     2t + 1 of column g).
//   mma m16n8k16 (bf16): A 16 x 16: a[0] = (g, 2t..2t+1), a[1] = (g + 8, 2t..), a[2] = (g, 2t+8..),
//     a[3] = (g + 8, 2t+8..); B 16 x 8 (k x n): b0 = (k 2t..2t+1, n g), b1 = (k 2t+8.., n g);
//     C/D 16 x 8 f32: c[0..1] = (g, 2t..2t+1), c[2..3] = (g + 8, 2t..2t+1). Low halves hold the
//     lower column (A) or k (B).
#pragma once
#include <cuda_runtime.h>
#include <cstdint>

namespace rsd::kernels {

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16 bytes global -> shared, asynchronous; valid == false writes 16 zero bytes (src is not read).
// dst and src are 16-byte aligned.
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src),
               "r"(valid ? 16 : 0)
               : "memory");
}

// Closes the group of this thread's copies issued since the last commit.
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }

// Waits until at most kPending of this thread's committed groups are still in flight. Other
// threads' copies need a __syncthreads() after it to be visible.
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
}

// Four 8 x 8 b16 matrices from shared memory, one register each (layout above).
__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}

// The same, each matrix transposed on the way.
__device__ __forceinline__ void ldsm_x4_trans(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}

// c += a (16x16, row-major fragments) * b (16x8, column fragments), bf16 in, f32 accumulate.
__device__ __forceinline__ void mma_bf16(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

}  // namespace rsd::kernels
