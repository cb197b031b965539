// The JSON sidecar of a pretraining checkpoint (engine/checkpoint.h, models/pretrain/run_checkpoint.h),
// through the real resume path: a valid checkpoint of a tiny method (fuzz/fixtures.h: two
// parameters, a buffer, SGD momentum) is written once at start-up with make_run_checkpoint; each
// input replaces its .json sidecar, then load_checkpoint, check_resume_config and
// restore_run_checkpoint run as `rsd pretrain --resume` does (models/pretrain/trainer.cpp).
#include "fuzz/fixtures.h"
#include "fuzz/fuzz_target.h"

namespace {

constexpr const char* kTarget = "checkpoint_sidecar";
constexpr int64_t kStep = 7;

}  // namespace

RSD_FUZZ_TARGET(checkpoint_sidecar) {
  using namespace rsd;
  static fuzz::TinyCheckpoint fixture(fuzz::scratch_dir(kTarget), kStep);
  fuzz::write_file(fixture.sidecar, data, size);
  // Errors may name either file of the checkpoint: both are in this folder.
  const std::string& dir = fuzz::scratch_dir(kTarget);
  fuzz::expect_clean(kTarget, {dir}, [&] {
    const LoadedCheckpoint ckpt = load_checkpoint(fixture.weights);
    fuzz::require(ckpt.step == kStep, kTarget, str_cat("load_checkpoint accepted step ", ckpt.step));
    pretrain::check_resume_config(ckpt, fixture.config, fixture.data);
    const pretrain::RunCounters counters = pretrain::restore_run_checkpoint(ckpt, fixture.method, *fixture.optimizer);
    fuzz::require(counters.step == kStep && counters.skipped_total >= 0 && counters.bad_in_a_row >= 0 &&
                      fixture.optimizer->step_count() >= 0,
                  kTarget,
                  str_cat("restore_run_checkpoint accepted counters: step ", counters.step, ", bad_in_a_row ",
                          counters.bad_in_a_row, ", skipped_total ", counters.skipped_total));
  });
}
