// The emulator itself (tests/emulation/simt.h): the warp-level matrix instructions used the way
// CUDA code conventionally uses them compute A B, and what a GPU would fail on or leave undefined
// is reported (a deadlock, too much dynamic shared memory, a shuffle after a lane returned,
// shared memory read before its cp.async landed or before any write, a read past a device
// buffer's end).
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "tests/emulation/device_array.h"
#include "tests/emulation/prelude.h"
#include "tests/emulation/ptx_emulated.h"

using namespace rsd;
using namespace rsd::test;

namespace {

// ---- kernels (device code, as a .cu file would have it; one warp) ----

// c (16 x 8) = a (16 x 16, row-major) b, with b given twice: bt (8 x 16, b transposed: n-major)
// for ldmatrix without .trans, and bk (16 x 8, k-major) for ldmatrix.trans. Lane addressing as in
// CUTLASS's SM80 tiles: lane l gives A row l % 16 at column 8 (l / 16), B rows l % 8 (+8 (l / 8)
// for the k halves).
__global__ void mma_kernel(const __nv_bfloat16* a, const __nv_bfloat16* bt, const __nv_bfloat16* bk, float* c_plain,
                           float* c_trans) {
  char* smem = emu::dynamic_shared<char>();  // extern __shared__ in a .cu file (translate_cu.py)
  auto* sa = reinterpret_cast<__nv_bfloat16*>(smem);  // 16 x 16
  __nv_bfloat16* sbt = sa + 256;                      // 8 x 16
  __nv_bfloat16* sbk = sbt + 128;                     // 16 x 8
  const int lane = static_cast<int>(threadIdx.x);
  for (int i = lane; i < 256; i += 32) sa[i] = a[i];
  for (int i = lane; i < 128; i += 32) {
    sbt[i] = bt[i];
    sbk[i] = bk[i];
  }
  __syncwarp();
  uint32_t fa[4], fb[4], fk[4];
  kernels::ldsm_x4(fa, sa + (lane % 16) * 16 + (lane / 16) * 8);
  kernels::ldsm_x4(fb, sbt + (lane % 8) * 16 + ((lane / 8) % 2) * 8);
  kernels::ldsm_x4_trans(fk, sbk + ((lane / 8) % 2 * 8 + lane % 8) * 8);
  float acc[4] = {1.0f, 1.0f, 1.0f, 1.0f};  // C = 1
  float acc_t[4] = {1.0f, 1.0f, 1.0f, 1.0f};
  kernels::mma_bf16(acc, fa, fb[0], fb[1]);
  kernels::mma_bf16(acc_t, fa, fk[0], fk[1]);
  const int g = lane / 4, t = lane % 4;
  for (int e = 0; e < 4; ++e) {
    const int row = g + 8 * (e / 2), col = 2 * t + e % 2;
    c_plain[row * 8 + col] = acc[e];
    c_trans[row * 8 + col] = acc_t[e];
  }
}

__global__ void divergent_kernel(float* out) {
  // Half the warp shuffles while the other half waits at the block barrier: a GPU hangs.
  float v = static_cast<float>(threadIdx.x);
  if (threadIdx.x < 16) {
    v = __shfl_xor_sync(0xffffffffu, v, 1);
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = v;
}

__global__ void shuffle_after_return_kernel(float* out) {
  if (threadIdx.x == 31) return;
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
}

__global__ void shared_kernel(float* out) {
  char* smem = emu::dynamic_shared<char>();  // extern __shared__ in a .cu file (translate_cu.py)
  reinterpret_cast<float*>(smem)[threadIdx.x] = 1.0f;
  __syncthreads();
  out[threadIdx.x] = reinterpret_cast<float*>(smem)[threadIdx.x];
}

// Thread 0 copies 16 bytes with cp.async and reads them before and after the wait.
__global__ void async_copy_kernel(const float* src, float* before, float* after) {
  char* smem = emu::dynamic_shared<char>();  // extern __shared__ in a .cu file (translate_cu.py)
  auto* s = reinterpret_cast<float*>(smem);
  kernels::cp_async16(s, src, true);
  kernels::cp_async_commit();
  before[0] = s[0];
  kernels::cp_async_wait<0>();
  after[0] = s[0];
}

// Block 0 writes its static shared variable; every block records what it found there first.
// (translate_cu.py turns `__shared__ float value;` into the static_shared call.)
__global__ void static_shared_kernel(float* seen) {
  static char key;
  auto& value = emu::static_shared<float>(&key);
  seen[blockIdx.x] = value;
  if (blockIdx.x == 0) value = 1.0f;
}

__global__ void read_past_end_kernel(const float* x, int64_t n, float* out) { out[0] = x[n + 16]; }

std::vector<double> bf16_values(int64_t n, uint64_t seed) {
  std::vector<double> v(static_cast<size_t>(n));
  uint64_t s = seed;
  for (double& x : v) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    x = static_cast<double>(static_cast<int64_t>(s >> 40) % 17 - 8) / 4.0;  // exact in bf16
  }
  return v;
}

}  // namespace

TEST_SUITE("emulated") {
  TEST_CASE("emulator: ldmatrix (with and without .trans) and mma.sync m16n8k16 compute A B + C") {
    const std::vector<double> a = bf16_values(256, 1), b = bf16_values(128, 2);  // b: (16 k, 8 n)
    std::vector<double> bt(128), bk(128);
    for (int k = 0; k < 16; ++k)
      for (int n = 0; n < 8; ++n) {
        bt[static_cast<size_t>(n * 16 + k)] = b[static_cast<size_t>(k * 8 + n)];
        bk[static_cast<size_t>(k * 8 + n)] = b[static_cast<size_t>(k * 8 + n)];
      }
    DeviceArray<__nv_bfloat16> da(a), dbt(bt), dbk(bk);
    DeviceArray<float> c_plain(128), c_trans(128);
    emu::configure(1, 32, 1024).run("mma_kernel", mma_kernel, da.get(), dbt.get(), dbk.get(), c_plain.get(),
                                    c_trans.get());
    const std::vector<double> got = c_plain.doubles(), got_t = c_trans.doubles();
    for (int i = 0; i < 16; ++i)
      for (int n = 0; n < 8; ++n) {
        double want = 1.0;
        for (int k = 0; k < 16; ++k) want += a[static_cast<size_t>(i * 16 + k)] * b[static_cast<size_t>(k * 8 + n)];
        CAPTURE(i);
        CAPTURE(n);
        CHECK(got[static_cast<size_t>(i * 8 + n)] == want);
        CHECK(got_t[static_cast<size_t>(i * 8 + n)] == want);
      }
  }

  TEST_CASE("emulator: a warp split between a shuffle and __syncthreads() is reported as a deadlock") {
    DeviceArray<float> out(64);
    CHECK_THROWS_WITH_AS(emu::configure(1, 64).run("divergent_kernel", divergent_kernel, out.get()),
                         doctest::Contains("deadlock"), emu::KernelError);
  }

  TEST_CASE("emulator: a shuffle after a lane of the warp returned is reported") {
    DeviceArray<float> out(32);
    CHECK_THROWS_WITH_AS(
        emu::configure(1, 32).run("shuffle_after_return_kernel", shuffle_after_return_kernel, out.get()),
        doctest::Contains("returned"), emu::KernelError);
  }

  TEST_CASE("emulator: more than 48 KiB of dynamic shared memory needs cudaFuncSetAttribute") {
    DeviceArray<float> out(32);
    const size_t bytes = 64 * 1024;
    CHECK_THROWS_WITH_AS(emu::configure(1, 32, bytes).run("shared_kernel", shared_kernel, out.get()),
                         doctest::Contains("cudaFuncSetAttribute"), emu::KernelError);
    cudaFuncSetAttribute(shared_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes));
    emu::configure(1, 32, bytes).run("shared_kernel", shared_kernel, out.get());
    CHECK(out.doubles() == std::vector<double>(32, 1.0));
    // More than the device has fails even with the attribute.
    cudaFuncSetAttribute(shared_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 300 * 1024);
    CHECK_THROWS_AS(emu::configure(1, 32, 300 * 1024).run("shared_kernel", shared_kernel, out.get()),
                    emu::KernelError);
  }

  TEST_CASE("emulator: cp.async lands at its wait (late) or at issue (early), as the options say") {
    DeviceArray<float> src(std::vector<double>{5.0, 6.0, 7.0, 8.0}), before(1), after(1);
    const emu::Options saved = emu::options();
    emu::options().copies = emu::CopyTiming::at_wait;
    emu::configure(1, 1, 64).run("async_copy_kernel", async_copy_kernel, src.get(), before.get(), after.get());
    CHECK(std::isnan(before.doubles()[0]));  // poisoned shared memory: the copy has not landed
    CHECK(after.doubles()[0] == 5.0);
    emu::options().copies = emu::CopyTiming::at_issue;
    emu::configure(1, 1, 64).run("async_copy_kernel", async_copy_kernel, src.get(), before.get(), after.get());
    CHECK(before.doubles()[0] == 5.0);
    emu::options() = saved;
  }

  TEST_CASE("emulator: static __shared__ memory is poisoned at each block's start") {
    DeviceArray<float> seen(3);
    emu::configure(3, 1).run("static_shared_kernel", static_shared_kernel, seen.get());
    for (double v : seen.doubles()) CHECK(std::isnan(v));  // block 1 does not see block 0's 1.0
  }

  TEST_CASE("emulator: a launch of more than 1024 threads a block fails as on a GPU") {
    DeviceArray<float> out(2048);
    CHECK_THROWS_WITH_AS(emu::configure(1, 2048).run("shared_kernel", shared_kernel, out.get()),
                         doctest::Contains("1024"), emu::KernelError);
  }

  TEST_CASE("emulator: a read past the end of a device buffer ends the process, naming the kernel") {
    // In a child process: the guard page after the buffer makes the read fault.
    int pipe_fd[2];
    REQUIRE(pipe(pipe_fd) == 0);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      dup2(pipe_fd[1], 1);
      dup2(pipe_fd[1], 2);
      DeviceArray<float> x(100), out(1);
      emu::configure(1, 1).run("read_past_end_kernel", read_past_end_kernel, x.get(), x.size(), out.get());
      _exit(0);
    }
    close(pipe_fd[1]);
    std::string message;
    char buf[512];
    for (ssize_t n; (n = read(pipe_fd[0], buf, sizeof buf)) > 0;) message.append(buf, static_cast<size_t>(n));
    close(pipe_fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status));
    CHECK(message.find("read_past_end_kernel") != std::string::npos);
  }
}
