// The fused CUDA loss kernels (kernels/info_nce.cu, kernels/cosine_loss.cu), compiled for and run
// on the CPU emulator (tests/emulation/simt.h), against the float64 oracle, the CPU ops in f64
// (tests/emulation/cpu_oracle.h): the sizes and bounds of the GPU suite (tests/support/info_nce_cases.h,
// tests/test_loss_cosine.cpp, :gpu), less the cosine case of 4.2 million rows (the grid-stride loop;
// minutes on the emulator). This checks the kernels' index arithmetic, tile tails, split merges,
// pipelines, fragment layouts and barriers without a GPU; it says nothing about their speed, and
// the GPU suite stays the check of the real hardware and compiler. Also: a device that refuses
// the fused tiles' shared memory gets the error back from the sequences, and no fused launch.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cosine_loss.cuh"
#include "kernels/info_nce.cuh"
#include "kernels/reduce.cuh"
#include "tests/support/cosine_loss_cases.h"
#include "tests/emulation/cpu_oracle.h"
#include "tests/emulation/device_array.h"
#include "tests/emulation/simt.h"
#include "tests/emulation/test_emulated_checks.h"
#include "tests/support/info_nce_cases.h"

using namespace rsd;
using namespace rsd::test;

namespace {

constexpr double kLn2 = 0.6931471805599453;
constexpr double kNceEps = 1e-12;    // InfoNceOptions' default
constexpr double kCosineEps = 1e-8;  // byol_cosine_loss's default

// loss[0] = scale * sum(x) with the engine's reduction kernels.
double reduce_on_device(const DeviceArray<float>& x, double scale) {
  DeviceArray<unsigned char> workspace(static_cast<int64_t>(kernels::reduce_workspace_bytes(x.size())));
  DeviceArray<float> out(1);
  kernels::reduce_sum<float>(x.get(), out.get(), x.size(), static_cast<float>(scale), workspace.get(), nullptr);
  return out.doubles()[0];
}

struct NceRun {
  double loss = 0.0, dtau = 0.0;
  std::vector<double> da, db;
};

// The problem of config c over a, b (device arrays of c.n and c.m rows) and tau (one float).
template <typename T>
kernels::InfoNceProblem<T> nce_problem(const NceConfig& c, const DeviceArray<T>& a, const DeviceArray<T>& b,
                                       const DeviceArray<float>& tau) {
  kernels::InfoNceProblem<T> p{};
  p.a = a.get();
  p.b = b.get();
  p.tau = tau.get();
  p.N = c.n;
  p.M = c.m;
  p.D = c.d;
  p.offset = c.offset;
  p.eps = static_cast<float>(kNceEps);
  p.symmetric = c.symmetric;
  return p;
}

// The fused forward and backward as engine/cuda/info_nce.cpp runs them; a, b already rounded.
template <typename T>
NceRun run_fused_nce(const NceConfig& c, const std::vector<double>& a, const std::vector<double>& b, float tau,
                     double g) {
  DeviceArray<T> A(a), B(b);
  DeviceArray<float> tau_d(std::vector<double>{tau}), g_d(std::vector<double>{g});
  DeviceArray<float> norms_a(c.n), norms_b(c.m), lse_row(c.n), lse_col(c.n), row_loss(c.n);
  DeviceArray<float> forward_scratch(kernels::info_nce_forward_scratch<T>(c.n, c.m, c.symmetric));
  kernels::InfoNceProblem<T> p = nce_problem(c, A, B, tau_d);
  REQUIRE(kernels::info_nce_forward<T>(p, norms_a.get(), norms_b.get(), lse_row.get(), lse_col.get(), row_loss.get(),
                                       forward_scratch.get(), nullptr) == cudaSuccess);
  NceRun run;
  run.loss = reduce_on_device(row_loss, kLn2 / static_cast<double>(c.symmetric ? 2 * c.n : c.n));
  p.norms_a = norms_a.get();
  p.norms_b = norms_b.get();
  DeviceArray<T> da(c.n * c.d), db(c.m * c.d);
  DeviceArray<float> dtau(1), backward_scratch(kernels::info_nce_backward_scratch<T>(c.n, c.m, c.d));
  REQUIRE(kernels::info_nce_backward<T>(p, lse_row.get(), lse_col.get(), g_d.get(), da.get(), db.get(), dtau.get(),
                                        backward_scratch.get(), nullptr) == cudaSuccess);
  run.da = da.doubles();
  run.db = db.doubles();
  run.dtau = dtau.doubles()[0];
  return run;
}

template <typename T>
void check_nce(const NceConfig& c, const std::vector<double>& av, const std::vector<double>& bv) {
  constexpr bool f32 = std::is_same_v<T, float>;
  const double g = 0.75;
  const float tau = static_cast<float>(c.tau);
  const std::vector<double> a = rounded<T>(av), b = rounded<T>(bv);
  const oracle::InfoNce ref = oracle::info_nce(a, b, c.n, c.m, c.d, tau, c.offset, c.symmetric, kNceEps, g);
  const NceRun got = run_fused_nce<T>(c, a, b, tau, g);
  const double bound = nce_bound(f32, tau);
  CAPTURE(c.n);
  CAPTURE(c.m);
  CAPTURE(c.offset);
  CAPTURE(c.d);
  CAPTURE(c.tau);
  CAPTURE(c.symmetric);
  CAPTURE(f32);
  INFO("loss " << got.loss << " reference " << ref.loss << "; dtau " << got.dtau << " reference " << ref.dtau);
  CHECK(relative_error(got.loss, ref.loss) <= bound);
  CHECK(relative_error(got.dtau, ref.dtau) <= bound);
  const double ea = relative_l2(ref.da, got.da), eb = relative_l2(ref.db, got.db);
  INFO("da relative L2 " << ea << ", db relative L2 " << eb);
  CHECK(ea <= bound);
  CHECK(eb <= bound);
}

// ---- cosine loss ----

struct CosineRun {
  double loss = 0.0;
  std::vector<double> dp;
};

// The fused kernel as engine/cuda/cosine_loss.cpp runs it: dp scaled by 1/R on the host and by
// g on the device. misalign: the rows start one element after a 16-byte boundary (the scalar
// path).
template <typename T>
CosineRun run_fused_cosine(const std::vector<double>& p, const std::vector<double>& z, int64_t R, int64_t D, double g,
                           bool misalign) {
  const int64_t shift = misalign ? 1 : 0;
  std::vector<double> ps(static_cast<size_t>(shift), 0.0), zs(static_cast<size_t>(shift), 0.0);
  ps.insert(ps.end(), p.begin(), p.end());
  zs.insert(zs.end(), z.begin(), z.end());
  DeviceArray<T> P(ps), Z(zs), dp(R * D + shift);
  DeviceArray<float> row_loss(R), g_d(std::vector<double>{g});
  kernels::cosine_loss_rows<T>(P.get() + shift, Z.get() + shift, row_loss.get(), dp.get() + shift, R, D,
                               static_cast<float>(kCosineEps), 1.0f / static_cast<float>(R), g_d.get(), nullptr);
  CosineRun run;
  run.loss = reduce_on_device(row_loss, 1.0 / static_cast<double>(R));
  const std::vector<double> all = dp.doubles();
  run.dp.assign(all.begin() + shift, all.end());
  return run;
}

double nmse(const std::vector<double>& want, const std::vector<double>& got) {
  const double e = relative_l2(want, got);
  return e * e;
}

// Bounds of the :gpu cases in tests/test_loss_cosine.cpp: loss (relative), NMSE of dp over the batch, worst row.
template <typename T>
void check_cosine(const std::vector<double>& pv, const std::vector<double>& zv, int64_t R, int64_t D, double g,
                  bool misalign, bool whole_batch) {
  constexpr bool f32 = std::is_same_v<T, float>;
  const std::vector<double> p = rounded<T>(pv), z = rounded<T>(zv);
  const oracle::CosineLoss ref = oracle::byol_cosine_loss(p, z, R, D, kCosineEps, g);
  const CosineRun got = run_fused_cosine<T>(p, z, R, D, g, misalign);
  CAPTURE(R);
  CAPTURE(D);
  CAPTURE(f32);
  CAPTURE(misalign);
  INFO("loss " << got.loss << " reference " << ref.loss);
  CHECK(relative_error(got.loss, ref.loss) <= (f32 ? 1e-5 : 1e-2));
  if (whole_batch) CHECK(nmse(ref.dp, got.dp) <= (f32 ? 1e-10 : 1e-4));
  CHECK(cosine_row_error(ref.dp, cosine_row_scales(p, z, R, D, kCosineEps, g), got.dp, R, D) <= (f32 ? 1e-5 : 1e-2));
}

// Restores the emulator's options at the end of a test case.
struct OptionsScope {
  emu::Options saved = emu::options();
  ~OptionsScope() { emu::options() = saved; }
};

}  // namespace

TEST_SUITE("emulated") {
  TEST_CASE("fused cosine loss kernel (f32, bf16) on the emulator matches the float64 reference") {
    // Every path: 4- to 32-lane groups, 1, 2 and 4 vectors a lane, the long-row loop kernel
    // (D = 1032, 2048), element loads (D = 3, 100, 130 or rows off 16-byte alignment).
    const std::vector<std::pair<int64_t, int64_t>> sizes{{1, 3},    {3, 64},     {257, 130},  {1000, 256}, {65, 100},
                                                         {257, 1032}, {40, 2048}, {3000, 4},   {129, 512}};
    uint64_t seed = 7100;
    for (const auto& [R, D] : sizes) {
      const std::vector<double> p = normal_values(R * D, seed++), z = normal_values(R * D, seed++);
      for (const bool misalign : {false, true}) {
        check_cosine<float>(p, z, R, D, -0.75, misalign, true);
        check_cosine<__nv_bfloat16>(p, z, R, D, -0.75, misalign, true);
      }
    }
  }

  TEST_CASE("fused cosine loss kernel on the emulator: zero rows, p = z and p = -z") {
    for (const int64_t D : {int64_t{3}, int64_t{130}, int64_t{256}, int64_t{1032}}) {
      const int64_t R = 7;
      std::vector<double> p = normal_values(R * D, 81), z = normal_values(R * D, 82);
      make_cosine_special_rows(D, p, z);
      check_cosine<float>(p, z, R, D, 1.0, false, false);
      check_cosine<__nv_bfloat16>(p, z, R, D, 1.0, false, false);
    }
  }

  TEST_CASE("fused info_nce kernels (f32, bf16) on the emulator match the float64 reference") {
    uint64_t seed = 9100;
    for (const NceConfig& c : nce_sizes()) {
      const std::vector<double> av = normal_values(c.n * c.d, seed++), bv = normal_values(c.m * c.d, seed++);
      check_nce<float>(c, av, bv);
      check_nce<__nv_bfloat16>(c, av, bv);
    }
  }

  TEST_CASE("fused info_nce kernels on the emulator: zero vectors, duplicate rows, identical positive pairs") {
    for (const NceConfig& c : nce_special_sizes()) {
      std::vector<double> av = normal_values(c.n * c.d, 31), bv = normal_values(c.m * c.d, 32);
      make_special_rows(c, av, bv);
      check_nce<float>(c, av, bv);
      check_nce<__nv_bfloat16>(c, av, bv);
    }
  }

  TEST_CASE("fused info_nce kernels on the emulator: no dependence on thread order; split counts agree") {
    // Bitwise the same results whatever the order of the threads, whether one warp runs ahead
    // and whether cp.async lands early or late: no read of shared memory before the barrier or
    // wait that makes it valid, no refill of a stage another warp still reads.
    OptionsScope scope;
    const NceConfig c{200, 700, 300, 64, 0.1, true};
    const std::vector<double> a = rounded<__nv_bfloat16>(normal_values(c.n * c.d, 51));
    const std::vector<double> b = rounded<__nv_bfloat16>(normal_values(c.m * c.d, 52));
    const NceRun first = run_fused_nce<__nv_bfloat16>(c, a, b, 0.1f, 1.0);
    const struct {
      emu::Order order;
      emu::Schedule schedule;
      emu::CopyTiming copies;
    } variants[] = {{emu::Order::reverse, emu::Schedule::warp_ahead, emu::CopyTiming::at_issue},
                    {emu::Order::forward, emu::Schedule::warp_ahead, emu::CopyTiming::at_wait},
                    {emu::Order::shuffled, emu::Schedule::lockstep, emu::CopyTiming::at_issue}};
    for (const auto& v : variants) {
      emu::options().order = v.order;
      emu::options().schedule = v.schedule;
      emu::options().copies = v.copies;
      CAPTURE(static_cast<int>(v.order));
      CAPTURE(static_cast<int>(v.schedule));
      CAPTURE(static_cast<int>(v.copies));
      const NceRun other = run_fused_nce<__nv_bfloat16>(c, a, b, 0.1f, 1.0);
      CHECK(first.loss == other.loss);
      CHECK(first.dtau == other.dtau);
      CHECK(first.da == other.da);
      CHECK(first.db == other.db);
    }
    // A device of one SM: one split per pass. The split count changes only how the f32 partial
    // sums are grouped: the results agree within rounding.
    emu::options() = scope.saved;
    emu::options().multiprocessors = 1;
    const NceRun one_split = run_fused_nce<__nv_bfloat16>(c, a, b, 0.1f, 1.0);
    CHECK(relative_error(one_split.loss, first.loss) <= 1e-6);
    CHECK(relative_l2(first.da, one_split.da) <= 1e-2);
    CHECK(relative_l2(first.db, one_split.db) <= 1e-2);
  }

  TEST_CASE("fused info_nce kernels on the emulator: every ldmatrix phase is free of bank conflicts") {
    // The shared rows are padded by 16 bytes so that the 8 rows one ldmatrix phase reads fall on
    // distinct banks (kernels/info_nce.cu); D = 64, 128 and 256 chunks, forward and backward
    // (the .trans loads of the second product included).
    for (const int64_t d : {int64_t{64}, int64_t{128}, int64_t{256}}) {
      const NceConfig c{130, 150, 10, d, 0.1, true};
      const std::vector<double> a = rounded<__nv_bfloat16>(normal_values(c.n * c.d, 71));
      const std::vector<double> b = rounded<__nv_bfloat16>(normal_values(c.m * c.d, 72));
      const emu::Counters before = emu::counters();
      run_fused_nce<__nv_bfloat16>(c, a, b, 0.1f, 1.0);
      const emu::Counters after = emu::counters();
      CAPTURE(d);
      CHECK(after.ldmatrix_phases > before.ldmatrix_phases);
      CHECK(after.ldmatrix_conflicts - before.ldmatrix_conflicts == 0);
    }
  }

  TEST_CASE("fused info_nce kernels on the emulator: N = M = 1 has exactly zero loss and gradients") {
    const NceConfig c{1, 1, 0, 37, 0.1, true};
    const std::vector<double> a = normal_values(c.d, 61), b = normal_values(c.d, 62);
    for (const NceRun& got : {run_fused_nce<float>(c, rounded<float>(a), rounded<float>(b), 0.1f, 1.0),
                              run_fused_nce<__nv_bfloat16>(c, rounded<__nv_bfloat16>(a), rounded<__nv_bfloat16>(b),
                                                           0.1f, 1.0)}) {
      CHECK(got.loss == 0.0);
      CHECK(got.dtau == 0.0);
      for (double v : got.da) CHECK(v == 0.0);
      for (double v : got.db) CHECK(v == 0.0);
    }
  }

  TEST_CASE("fused info_nce kernels on the emulator: a refused shared memory size is returned, no fused launch") {
    // A device whose blocks may not opt in to the tiles' shared memory: cudaFuncSetAttribute fails,
    // and the sequences return its error before launching a fused kernel (the forward has already
    // launched its two row-norm kernels, which need no shared memory).
    struct Restore {
      emu::Options saved = emu::options();
      ~Restore() { emu::options() = saved; }
    } restore;
    emu::options().max_dynamic_shared = 1024;
    const NceConfig c{8, 8, 0, 64, 0.1, true};
    DeviceArray<float> a(normal_values(c.n * c.d, 880)), b(normal_values(c.m * c.d, 881));
    DeviceArray<float> tau(std::vector<double>{0.1}), g(std::vector<double>{1.0});
    DeviceArray<float> norms_a(c.n), norms_b(c.m), lse_row(c.n), lse_col(c.n), row_loss(c.n), dtau(1);
    DeviceArray<float> forward_scratch(kernels::info_nce_forward_scratch<float>(c.n, c.m, c.symmetric));
    DeviceArray<float> backward_scratch(kernels::info_nce_backward_scratch<float>(c.n, c.m, c.d));
    DeviceArray<float> da(c.n * c.d), db(c.m * c.d);
    kernels::InfoNceProblem<float> p = nce_problem(c, a, b, tau);
    const int64_t before = emu::counters().launches;
    CHECK(kernels::info_nce_forward<float>(p, norms_a.get(), norms_b.get(), lse_row.get(), lse_col.get(),
                                           row_loss.get(), forward_scratch.get(), nullptr) == cudaErrorInvalidValue);
    CHECK(emu::counters().launches - before == 2);
    p.norms_a = norms_a.get();
    p.norms_b = norms_b.get();
    CHECK(kernels::info_nce_backward<float>(p, lse_row.get(), lse_col.get(), g.get(), da.get(), db.get(), dtau.get(),
                                            backward_scratch.get(), nullptr) == cudaErrorInvalidValue);
    CHECK(emu::counters().launches - before == 2);
  }
}
