// The multi-tensor kernels (kernels/optim.cu: SGD, LARS, AdamW; kernels/multi_tensor_ops.cu: EMA,
// squared norm, scale) on the CPU emulator (tests/emulation/simt.h) against the engine's CPU path
// of the same updates. The slot table mixes a 1-element slot, chunk-sized and multi-chunk slots
// with a tail (2 * 65536 + 77), empty slots (no chunk) first, last and between others, excluded
// slots (no weight decay, no LARS adaptation; one of two chunks) and an all-zero parameter (LARS
// trust 1). squared_norm
// also runs over 300 one-chunk slots (its final kernel's loop strides over more than 256
// partials), with an Inf or a NaN (the guard's signal) and with no slots (0). LARS and
// squared_norm, whose block sums meet in shared memory, must not depend on the emulator's thread
// order.
//
// The oracle is the engine's CPU path of each optimizer (tests/emulation/cpu_oracle.h: the SGD,
// LARS, AdamW, EmaUpdate and GradientNorm classes), which computes in f32 as the kernels do. LARS's
// per-chunk partial sums are the kernel's own intermediate, which the classes do not have: they
// are checked against sums written here.
//
// Bounds: kF32Tol (test_emulated_checks.h) times the magnitude of each output's terms (for the
// update p - lr * u: |p| + lr * the magnitude of u's terms). scale is one f32 product: exact.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/multi_tensor_ops.cuh"
#include "kernels/optim.cuh"
#include "tests/emulation/cpu_oracle.h"
#include "tests/emulation/device_array.h"
#include "tests/emulation/test_emulated_checks.h"

using namespace rsd;
using namespace rsd::test;

namespace {

using kernels::kMultiTensorChunk;

struct SlotSpec {
  int64_t n;
  bool excluded = false;
  bool zero_param = false;
};

// Host values (f32-representable, as doubles) and device arrays of every slot, and the slot
// table with its chunk prefix sums on the device.
struct MultiTensor {
  std::vector<SlotSpec> specs;
  std::vector<std::vector<double>> p, g, s0, s1;
  std::vector<std::unique_ptr<DeviceArray<float>>> dp, dg, ds0, ds1;
  std::unique_ptr<DeviceArray<kernels::MultiTensorSlot>> slots;
  std::unique_ptr<DeviceArray<int64_t>> chunk_start;
  std::vector<int64_t> starts;
  int n_slots = 0;
  int64_t total_chunks = 0;

  // state0 / state1: give the slots those buffers (else null), filled with s0 in (-1, 1) and s1
  // in (0, 2).
  MultiTensor(const std::vector<SlotSpec>& slot_specs, uint64_t seed, bool state0, bool state1) : specs(slot_specs) {
    n_slots = static_cast<int>(specs.size());
    starts.push_back(0);
    std::vector<kernels::MultiTensorSlot> table;
    for (const SlotSpec& s : specs) {
      p.push_back(rounded<float>(s.zero_param ? std::vector<double>(static_cast<size_t>(s.n), 0.0)
                                              : normal_values(s.n, seed++)));
      g.push_back(rounded<float>(normal_values(s.n, seed++, 0.0, 0.1)));
      s0.push_back(rounded<float>(uniform_values(s.n, seed++, -1.0, 1.0)));
      s1.push_back(rounded<float>(uniform_values(s.n, seed++, 0.0, 2.0)));
      dp.push_back(std::make_unique<DeviceArray<float>>(p.back()));
      dg.push_back(std::make_unique<DeviceArray<float>>(g.back()));
      ds0.push_back(std::make_unique<DeviceArray<float>>(s0.back()));
      ds1.push_back(std::make_unique<DeviceArray<float>>(s1.back()));
      table.push_back(kernels::MultiTensorSlot{dp.back()->get(), dg.back()->get(), state0 ? ds0.back()->get() : nullptr,
                                               state1 ? ds1.back()->get() : nullptr, s.n,
                                               s.excluded ? kernels::kSlotExcluded : 0});
      starts.push_back(starts.back() + (s.n + kMultiTensorChunk - 1) / kMultiTensorChunk);
    }
    total_chunks = starts.back();
    slots = std::make_unique<DeviceArray<kernels::MultiTensorSlot>>(n_slots);
    std::copy(table.begin(), table.end(), slots->get());
    chunk_start = std::make_unique<DeviceArray<int64_t>>(n_slots + 1);
    std::copy(starts.begin(), starts.end(), chunk_start->get());
  }

  // The host values as the oracle's tensors.
  oracle::ParamSet params() const {
    oracle::ParamSet s{p, g, s0, s1, {}};
    for (const SlotSpec& spec : specs) s.excluded.push_back(spec.excluded);
    return s;
  }
};

// Empty first, 1-element, chunk-sized, 3 chunks with a tail, empty, excluded (1 and 2 chunks),
// all-zero, empty last.
std::vector<SlotSpec> mixed_slots() {
  return {{0}, {1},          {300},         {kMultiTensorChunk}, {2 * kMultiTensorChunk + 77},
          {0}, {1000, true}, {70000, true}, {500, false, true},  {0}};
}

struct Expected {
  std::vector<double> p, p_scale, s0, s0_scale, s1, s1_scale;
};

void check_slot(const MultiTensor& mt, size_t k, const Expected& e, bool state0, bool state1) {
  CAPTURE(k);
  CAPTURE(mt.specs[k].n);
  check_within("param", mt.dp[k]->doubles(), e.p, e.p_scale, 0.0, kF32Tol);
  if (state0) check_within("state0", mt.ds0[k]->doubles(), e.s0, e.s0_scale, 0.0, kF32Tol);
  if (state1) check_within("state1", mt.ds1[k]->doubles(), e.s1, e.s1_scale, 0.0, kF32Tol);
}

void check_sgd(float lr, float momentum, float wd, bool nesterov) {
  CAPTURE(momentum);
  CAPTURE(nesterov);
  const bool state0 = momentum != 0.0f;
  MultiTensor mt(mixed_slots(), 600, state0, false);
  kernels::sgd_step(mt.slots->get(), mt.chunk_start->get(), mt.n_slots, mt.total_chunks, lr, momentum, wd, nesterov,
                    nullptr);
  oracle::ParamSet want = mt.params();
  oracle::sgd_step(want, lr, momentum, wd, nesterov);
  for (size_t k = 0; k < mt.specs.size(); ++k) {
    const double w = mt.specs[k].excluded ? 0.0 : wd;
    // The terms: d = g + w p, v = momentum v0 + d, u = d + momentum v (Nesterov) or v.
    Expected e{want.p[k], {}, want.state0[k], {}, {}, {}};
    for (size_t i = 0; i < mt.p[k].size(); ++i) {
      const double p = mt.p[k][i], gs = std::fabs(mt.g[k][i]) + w * std::fabs(p);
      double us = gs;
      if (state0) {
        const double vs = momentum * std::fabs(mt.s0[k][i]) + gs;
        e.s0_scale.push_back(vs);
        us = nesterov ? gs + momentum * vs : vs;
      }
      e.p_scale.push_back(std::fabs(p) + lr * us);
    }
    check_slot(mt, k, e, state0, false);
  }
}

void check_lars(float lr, float momentum, float wd, float eta) {
  CAPTURE(momentum);
  const bool state0 = momentum != 0.0f;
  MultiTensor mt(mixed_slots(), 700, state0, false);
  DeviceArray<unsigned char> workspace(static_cast<int64_t>(kernels::lars_workspace_bytes(mt.total_chunks)));
  kernels::lars_norms(mt.slots->get(), mt.chunk_start->get(), mt.n_slots, mt.total_chunks, wd, workspace.get(),
                      nullptr);
  // The workspace: (sum p^2, sum d^2) per chunk, (0, 0) for excluded slots.
  std::vector<double> partials(static_cast<size_t>(2 * mt.total_chunks)), want_partials(partials.size()),
      scale(partials.size());
  const auto* f = reinterpret_cast<const float*>(workspace.get());
  for (size_t i = 0; i < partials.size(); ++i) partials[i] = f[i];
  std::vector<double> p_norm(mt.specs.size()), d_norm(mt.specs.size());
  for (size_t k = 0; k < mt.specs.size(); ++k) {
    double pp = 0.0, dd = 0.0;
    for (int64_t c = mt.starts[k]; c < mt.starts[k + 1]; ++c) {
      double cp = 0.0, cd = 0.0;
      if (!mt.specs[k].excluded) {
        const int64_t begin = (c - mt.starts[k]) * kMultiTensorChunk;
        const int64_t end = std::min(mt.specs[k].n, begin + kMultiTensorChunk);
        for (int64_t i = begin; i < end; ++i) {
          const double p = mt.p[k][static_cast<size_t>(i)], d = mt.g[k][static_cast<size_t>(i)] + wd * p;
          cp += p * p;
          cd += d * d;
        }
      }
      want_partials[static_cast<size_t>(2 * c)] = scale[static_cast<size_t>(2 * c)] = cp;
      want_partials[static_cast<size_t>(2 * c + 1)] = scale[static_cast<size_t>(2 * c + 1)] = cd;
      pp += cp;
      dd += cd;
    }
    p_norm[k] = std::sqrt(pp);
    d_norm[k] = std::sqrt(dd);
  }
  check_within("lars_norms partials", partials, want_partials, scale, 0.0, kF32Tol);

  kernels::lars_step(mt.slots->get(), mt.chunk_start->get(), mt.n_slots, mt.total_chunks, lr, momentum, wd, eta,
                     workspace.get(), nullptr);
  oracle::ParamSet want = mt.params();
  oracle::lars_step(want, lr, momentum, wd, eta);
  for (size_t k = 0; k < mt.specs.size(); ++k) {
    const bool skip = mt.specs[k].excluded;
    const double w = skip ? 0.0 : wd;
    // The terms: u = momentum v0 + (g + w p) trust, with the trust eta |p| / |d| from the sums
    // above (for the bound only).
    const double trust = skip || p_norm[k] == 0.0 || d_norm[k] == 0.0 ? 1.0 : eta * p_norm[k] / d_norm[k];
    Expected e{want.p[k], {}, want.state0[k], {}, {}, {}};
    for (size_t i = 0; i < mt.p[k].size(); ++i) {
      const double p = mt.p[k][i];
      double us = (std::fabs(mt.g[k][i]) + w * std::fabs(p)) * trust;
      if (state0) {
        us = momentum * std::fabs(mt.s0[k][i]) + us;
        e.s0_scale.push_back(us);
      }
      e.p_scale.push_back(std::fabs(p) + lr * us);
    }
    check_slot(mt, k, e, state0, false);
  }
}

void check_adamw() {
  const float lr = 0.01f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, wd = 0.05f;
  MultiTensor mt(mixed_slots(), 800, true, true);
  for (int64_t step = 1; step <= 2; ++step) {
    CAPTURE(step);
    kernels::adamw_step(mt.slots->get(), mt.chunk_start->get(), mt.n_slots, mt.total_chunks, lr, beta1, beta2, eps, wd,
                        step, nullptr);
    oracle::ParamSet want = mt.params();
    oracle::adamw_step(want, lr, beta1, beta2, eps, wd, step);
    // The terms: m = beta1 m0 + (1 - beta1) g; v = beta2 v0 + (1 - beta2) g^2 (positive terms: its own
    // size); p decay - lr (m / bias1) / (sqrt(v / bias2) + eps).
    const double bias1 = 1.0 - std::pow(static_cast<double>(beta1), static_cast<double>(step));
    const double bias2 = 1.0 - std::pow(static_cast<double>(beta2), static_cast<double>(step));
    for (size_t k = 0; k < mt.specs.size(); ++k) {
      Expected e{want.p[k], {}, want.state0[k], {}, want.state1[k], want.state1[k]};
      for (size_t i = 0; i < mt.p[k].size(); ++i) {
        const double m = want.state0[k][i], v = want.state1[k][i];
        const double ms = beta1 * std::fabs(mt.s0[k][i]) + (1.0 - beta1) * std::fabs(mt.g[k][i]);
        const double denom = std::sqrt(v / bias2) + eps;
        e.s0_scale.push_back(ms);
        e.p_scale.push_back(std::fabs(mt.p[k][i]) + lr * (ms + std::fabs(m)) / bias1 / denom);
      }
      check_slot(mt, k, e, true, true);
      // The next step starts from what this one left on the device.
      mt.p[k] = mt.dp[k]->doubles();
      mt.s0[k] = mt.ds0[k]->doubles();
      mt.s1[k] = mt.ds1[k]->doubles();
    }
  }
}

// *out of squared_norm over the table.
double device_squared_norm(const MultiTensor& mt) {
  DeviceArray<unsigned char> workspace(static_cast<int64_t>(kernels::squared_norm_workspace_bytes(mt.total_chunks)));
  DeviceArray<double> out(1);
  kernels::squared_norm(mt.slots->get(), mt.chunk_start->get(), mt.n_slots, mt.total_chunks, workspace.get(), out.get(),
                        nullptr);
  return out.doubles()[0];
}

}  // namespace

TEST_SUITE("emulated") {
  TEST_CASE("optim kernels on the emulator: SGD (plain, momentum, Nesterov) matches the CPU optimizer") {
    check_sgd(0.1f, 0.0f, 1e-4f, false);
    check_sgd(0.1f, 0.9f, 1e-4f, false);
    check_sgd(0.05f, 0.9f, 5e-4f, true);
  }

  TEST_CASE("optim kernels on the emulator: LARS norms and step (with and without momentum) match the CPU optimizer") {
    check_lars(0.2f, 0.9f, 1e-3f, 0.001f);
    check_lars(0.2f, 0.0f, 1e-3f, 0.02f);
  }

  TEST_CASE("optim kernels on the emulator: AdamW, two steps, matches the CPU optimizer") { check_adamw(); }

  TEST_CASE("multi_tensor_ops kernels on the emulator: EMA update and scale match the CPU updates") {
    MultiTensor mt(mixed_slots(), 900, false, false);
    const float tau = 0.996f;
    kernels::ema_update(mt.slots->get(), mt.chunk_start->get(), mt.n_slots, mt.total_chunks, tau, nullptr);
    oracle::ParamSet want = mt.params();
    oracle::ema_update(want, tau);
    for (size_t k = 0; k < mt.specs.size(); ++k) {
      CAPTURE(k);
      std::vector<double> scale(want.p[k].size());
      for (size_t i = 0; i < scale.size(); ++i)
        scale[i] = tau * std::fabs(mt.p[k][i]) + (1.0 - tau) * std::fabs(mt.g[k][i]);
      check_within("ema", mt.dp[k]->doubles(), want.p[k], scale, 0.0, kF32Tol);
      mt.p[k] = mt.dp[k]->doubles();
    }
    // One f32 product of f32 values: exactly the product rounded to f32.
    const float factor = 0.37f;
    kernels::scale(mt.slots->get(), mt.chunk_start->get(), mt.n_slots, mt.total_chunks, factor, nullptr);
    want = mt.params();
    oracle::scale(want, factor);
    for (size_t k = 0; k < mt.specs.size(); ++k) {
      CAPTURE(k);
      check_exact("scale", mt.dp[k]->doubles(), want.p[k]);
    }
  }

  TEST_CASE("multi_tensor_ops kernels on the emulator: squared_norm matches the CPU gradient norm; Inf and NaN show") {
    {
      MultiTensor mt(mixed_slots(), 1000, false, false);
      const double want = oracle::squared_norm(mt.params());
      check_within("squared_norm", {device_squared_norm(mt)}, {want}, want, 0.0, kF32Tol);
    }
    std::vector<SlotSpec> many;
    for (int i = 0; i < 300; ++i) many.push_back({1 + (i % 7) * 13});
    MultiTensor mt(many, 1100, false, false);
    CHECK(mt.total_chunks == 300);
    const double want = oracle::squared_norm(mt.params());
    check_within("squared_norm (300 chunks)", {device_squared_norm(mt)}, {want}, want, 0.0, kF32Tol);
    mt.dp[123]->get()[5] = INFINITY;
    CHECK(std::isinf(device_squared_norm(mt)));
    mt.dp[299]->get()[0] = NAN;
    CHECK(std::isnan(device_squared_norm(mt)));

    DeviceArray<double> out(1);
    kernels::squared_norm(nullptr, nullptr, 0, 0, nullptr, out.get(), nullptr);
    CHECK(out.doubles()[0] == 0.0);
  }

  TEST_CASE("step_guard on the emulator: skip on a non-finite loss or norm, the clipping factor, the norm") {
    const auto guard_of = [](float loss, double squared_norm, double clip) {
      DeviceArray<float> dloss(std::vector<double>{loss});
      DeviceArray<double> dnorm(std::vector<double>{squared_norm});
      DeviceArray<float> guard(2);
      DeviceArray<double> norm(1);
      kernels::step_guard(dloss.get(), dnorm.get(), clip, guard.get(), norm.get(), nullptr);
      return std::vector<double>{guard.doubles()[0], guard.doubles()[1], norm.doubles()[0]};
    };
    CHECK(guard_of(0.5f, 4.0, 0.0) == std::vector<double>{0.0, 1.0, 2.0});
    CHECK(guard_of(0.5f, 4.0, 3.0) == std::vector<double>{0.0, 1.0, 2.0});  // under the clip
    CHECK(guard_of(0.5f, 4.0, 1.0) ==
          std::vector<double>{0.0, static_cast<float>(1.0 / (2.0 + 1e-6)), 2.0});  // the host's formula
    CHECK(guard_of(NAN, 4.0, 1.0)[0] == 1.0);
    CHECK(guard_of(INFINITY, 4.0, 0.0)[0] == 1.0);
    CHECK(guard_of(0.5f, INFINITY, 1.0)[0] == 1.0);
    CHECK(guard_of(0.5f, NAN, 0.0)[0] == 1.0);
  }

  TEST_CASE("optim kernels on the emulator: a guard that says skip writes nothing; its scale scales the gradients") {
    DeviceArray<float> skip(std::vector<double>{1.0, 1.0});
    MultiTensor mt(mixed_slots(), 1400, true, true);
    DeviceArray<unsigned char> workspace(static_cast<int64_t>(kernels::lars_workspace_bytes(mt.total_chunks)));
    kernels::sgd_step(mt.slots->get(), mt.chunk_start->get(), mt.n_slots, mt.total_chunks, 0.1f, 0.9f, 1e-4f, false,
                      nullptr, skip.get());
    kernels::lars_norms(mt.slots->get(), mt.chunk_start->get(), mt.n_slots, mt.total_chunks, 1e-3f, workspace.get(),
                        nullptr, skip.get());
    kernels::lars_step(mt.slots->get(), mt.chunk_start->get(), mt.n_slots, mt.total_chunks, 0.2f, 0.9f, 1e-3f, 0.001f,
                       workspace.get(), nullptr, skip.get());
    kernels::adamw_step(mt.slots->get(), mt.chunk_start->get(), mt.n_slots, mt.total_chunks, 0.01f, 0.9f, 0.999f,
                        1e-8f, 0.05f, 1, nullptr, skip.get());
    kernels::ema_update(mt.slots->get(), mt.chunk_start->get(), mt.n_slots, mt.total_chunks, 0.99f, nullptr,
                        skip.get());
    for (size_t k = 0; k < mt.specs.size(); ++k) {
      CAPTURE(k);
      check_exact("param after skipped steps", mt.dp[k]->doubles(), mt.p[k]);
      check_exact("state0 after skipped steps", mt.ds0[k]->doubles(), mt.s0[k]);
      check_exact("state1 after skipped steps", mt.ds1[k]->doubles(), mt.s1[k]);
    }
    // Scale 0.25 (exact in f32): the same step as on gradients scaled beforehand.
    DeviceArray<float> clip(std::vector<double>{0.0, 0.25});
    kernels::sgd_step(mt.slots->get(), mt.chunk_start->get(), mt.n_slots, mt.total_chunks, 0.1f, 0.9f, 1e-4f, false,
                      nullptr, clip.get());
    oracle::ParamSet want = mt.params();
    for (auto& g : want.g)
      for (double& v : g) v *= 0.25;
    oracle::sgd_step(want, 0.1f, 0.9f, 1e-4f, false);
    for (size_t k = 0; k < mt.specs.size(); ++k) {
      CAPTURE(k);
      std::vector<double> scale(want.p[k].size());
      for (size_t i = 0; i < scale.size(); ++i)
        scale[i] = std::fabs(mt.p[k][i]) + 0.1 * (0.9 * std::fabs(mt.s0[k][i]) + 0.25 * std::fabs(mt.g[k][i]) +
                                                 1e-4 * std::fabs(mt.p[k][i]));
      check_within("sgd with a clipping guard", mt.dp[k]->doubles(), want.p[k], scale, 0.0, kF32Tol);
    }
  }

  TEST_CASE("optim kernels on the emulator: results do not depend on thread order") {
    // LARS: block sums of the chunk norms and of the slot's partials through shared memory.
    check_order_independent("lars_norms, lars_step", [&] {
      MultiTensor mt(mixed_slots(), 1200, true, false);
      DeviceArray<unsigned char> workspace(static_cast<int64_t>(kernels::lars_workspace_bytes(mt.total_chunks)));
      kernels::lars_norms(mt.slots->get(), mt.chunk_start->get(), mt.n_slots, mt.total_chunks, 1e-3f, workspace.get(),
                          nullptr);
      kernels::lars_step(mt.slots->get(), mt.chunk_start->get(), mt.n_slots, mt.total_chunks, 0.2f, 0.9f, 1e-3f, 0.001f,
                         workspace.get(), nullptr);
      std::vector<double> out;
      for (size_t k = 0; k < mt.specs.size(); ++k)
        for (const std::vector<double>& v : {mt.dp[k]->doubles(), mt.ds0[k]->doubles()})
          out.insert(out.end(), v.begin(), v.end());
      return out;
    });
  }

  TEST_CASE("multi_tensor_ops kernels on the emulator: results do not depend on thread order") {
    std::vector<SlotSpec> many;
    for (int i = 0; i < 300; ++i) many.push_back({1 + (i % 7) * 13});
    many.push_back({2 * kMultiTensorChunk + 77});
    const MultiTensor mt(many, 1300, false, false);
    check_order_independent("squared_norm", [&] { return std::vector<double>{device_squared_norm(mt)}; });
  }
}
