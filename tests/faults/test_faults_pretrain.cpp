// Faults of `rsd pretrain` through its command line: run folders that already hold a run, non-finite
// values that must never reach a checkpoint, resuming or initializing from another architecture,
// the metrics of a resumed run, unwritable outputs, damaged sidecars, contradicting options,
// kill -9 during a checkpoint write, a full disk.
#include <doctest/doctest.h>

#include <signal.h>

#include <atomic>
#include <functional>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/checkpoint.h"
#include "engine/safetensors.h"
#include "tests/faults/fault_harness.h"
#include "tests/support/test_paths.h"

using namespace rsd;
using namespace rsd::test;
namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& p) {
  std::ifstream f(p);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// The "step" of every metrics row.
std::vector<int64_t> metric_steps(const fs::path& run) {
  std::vector<int64_t> steps;
  std::ifstream f(run / "metrics.jsonl");
  for (std::string line; std::getline(f, line);) steps.push_back(nlohmann::json::parse(line).at("step").get<int64_t>());
  return steps;
}

// Every checkpoint in run/checkpoints opens, and every tensor in it is finite.
void check_checkpoints_finite(const fs::path& run) {
  for (const std::string& path : CheckpointDir((run / "checkpoints").string(), 1).list()) {
    const SafetensorsFile f = SafetensorsFile::open(path);
    for (const std::string& name : f.names()) {
      CAPTURE(path);
      CAPTURE(name);
      CHECK(count_non_finite(f.read(name)).count == 0);
    }
  }
}

// A successful rsd run, or the test stops with what it printed.
void require_ok(const CommandResult& r) {
  const bool ok = r.exited() && r.exit_code == 0;
  REQUIRE_MESSAGE(ok, r.describe());
}

}  // namespace

TEST_SUITE("faults") {
  TEST_CASE("pretrain: a fresh run into a folder that holds a run is refused; --overwrite starts over" *
            doctest::skip(kNoGdal)) {
    TempDir dir;
    const fs::path run = dir / "run";
    const std::string config = write_tiny_config(dir / "c.toml", "byol", run, 2);
    require_ok(run_rsd({"pretrain", "--config", config}));
    const std::string metrics = read_text(run / "metrics.jsonl");
    REQUIRE(!metrics.empty());
    const CommandResult again = run_rsd({"pretrain", "--config", config, "--set", "train.steps=3"});
    CHECK_MESSAGE(clean_failure(again, {run.string(), "already holds a run", "--resume", "--overwrite"}) == "",
                  again.describe());
    CHECK(read_text(run / "metrics.jsonl") == metrics);  // nothing of the old run touched
    CHECK(fs::exists(run / "checkpoints" / "step-00000001.safetensors"));
    require_ok(run_rsd({"pretrain", "--config", config, "--set", "train.steps=3", "--overwrite"}));
    CHECK(metric_steps(run) == std::vector<int64_t>{1, 2, 3});
    // The old run went whole: keep_last = 3 of the new run's steps 1..3 only, and none of the old files.
    CHECK(CheckpointDir((run / "checkpoints").string(), 1).list().size() == 3);
    // --resume continues; --resume with --overwrite, or --init, contradicts.
    const CommandResult both = run_rsd({"pretrain", "--config", config, "--resume", "--overwrite"});
    CHECK_MESSAGE(clean_failure(both, {"--resume and --overwrite"}) == "", both.describe());
    const CommandResult init_resume = run_rsd({"pretrain", "--config", config, "--resume", "--init",
                                              (run / "checkpoints" / "step-00000003.safetensors").string()});
    CHECK_MESSAGE(clean_failure(init_resume, {"--init", "--resume", "do not go together"}) == "", init_resume.describe());
    // A checkpoint of another run may not continue in this folder.
    const fs::path other = dir / "other";
    require_ok(run_rsd({"pretrain", "--config", write_tiny_config(dir / "o.toml", "byol", other, 1)}));
    const CommandResult mixed = run_rsd({"pretrain", "--config", config, "--set", "train.steps=4", "--resume",
                                        (other / "checkpoints").string()});
    CHECK_MESSAGE(clean_failure(mixed, {"mix two runs"}) == "", mixed.describe());
  }

  TEST_CASE("pretrain: a resumed run keeps every metrics row; resuming past train.steps is refused" *
            doctest::skip(kNoGdal)) {
    TempDir dir;
    const fs::path run = dir / "run";
    const std::string config = write_tiny_config(dir / "c.toml", "simclr", run, 2);
    require_ok(run_rsd({"pretrain", "--config", config}));
    require_ok(run_rsd({"pretrain", "--config", config, "--set", "train.steps=4", "--resume"}));
    CHECK(metric_steps(run) == std::vector<int64_t>{1, 2, 3, 4});  // step 2's row was lost before
    const CommandResult below = run_rsd({"pretrain", "--config", config, "--set", "train.steps=3", "--resume"});
    CHECK_MESSAGE(clean_failure(below, {"step-00000004.safetensors", "at step 4", "train.steps"}) == "", below.describe());
    const CommandResult done = run_rsd({"pretrain", "--config", config, "--set", "train.steps=4", "--resume"});
    CHECK_MESSAGE(done.exit_code == 0, done.describe());
    CHECK(done.out.find("nothing to train") != std::string::npos);
    CHECK(metric_steps(run) == std::vector<int64_t>{1, 2, 3, 4});
  }

  TEST_CASE("pretrain: a diverged run never writes a non-finite checkpoint and ends with an error" *
            doctest::skip(kNoGdal)) {
    TempDir dir;
    for (const char* optimizer : {"sgd", "adamw"}) {
      CAPTURE(optimizer);
      const fs::path run = dir / optimizer;
      const std::string config = write_tiny_config(dir / (std::string(optimizer) + ".toml"), "byol", run, 6);
      const std::string lr = std::string(optimizer) == "sgd" ? "train.lr=1e30" : "train.lr=1e6";
      const CommandResult r = run_rsd({"pretrain", "--config", config, "--set", std::string("train.optimizer=") + optimizer,
                                       "--set", lr, "--set", "train.lr_scaling=none", "--set", "train.warmup_fraction=0"});
      // SGD at 1e30: the NaN guard or the checkpoint check stops it; AdamW at 1e6 used to end with
      // exit 0 and Inf running variances in its checkpoint.
      CHECK_MESSAGE(clean_failure(r, {}) == "", r.describe());
      const bool names_it = r.err.find("non-finite") != std::string::npos || r.err.find("not finite") != std::string::npos;
      CHECK_MESSAGE(names_it, r.describe());
      check_checkpoints_finite(run);
      CHECK(temporary_files(run).empty());
    }
  }

  TEST_CASE("pretrain: --resume refuses another architecture; --init reports and refuses a misfit" *
            doctest::skip(kNoGdal)) {
    TempDir dir;
    const fs::path r34 = dir / "r34", r18 = dir / "r18";
    require_ok(run_rsd({"pretrain", "--config", write_tiny_config(dir / "a.toml", "simclr", r34, 1), "--set",
                        "model.arch=resnet34"}));
    const std::string config18 = write_tiny_config(dir / "b.toml", "simclr", r18, 2);
    // Resume a ResNet-34 run's checkpoint with a ResNet-18 config: refused, naming the key.
    const CommandResult resumed = run_rsd({"pretrain", "--config", write_tiny_config(dir / "c.toml", "simclr", r34, 2),
                                           "--resume"});
    CHECK_MESSAGE(clean_failure(resumed, {"cannot resume", "model.arch", "resnet34", "resnet18"}) == "",
                  resumed.describe());
    const std::string weights = (r34 / "checkpoints" / "step-00000001.safetensors").string();
    const CommandResult init = run_rsd({"pretrain", "--config", config18, "--init", weights});
    CHECK_MESSAGE(clean_failure(init, {weights, "does not fit this model", "--init-partial"}) == "", init.describe());
    CHECK_FALSE(fs::exists(r18 / "checkpoints"));  // refused before training: the folder holds no run
    CHECK_FALSE(fs::exists(r18 / "config.toml"));
    const CommandResult partial = run_rsd({"pretrain", "--config", config18, "--init", weights, "--init-partial"});
    require_ok(partial);
    CHECK(partial.out.find("match none of the model's") != std::string::npos);
    // The same architecture loads whole and says so.
    const std::string own = (r18 / "checkpoints" / "step-00000002.safetensors").string();
    const CommandResult same = run_rsd({"pretrain", "--config", write_tiny_config(dir / "d.toml", "simclr", dir / "r18b", 1),
                                        "--init", own});
    require_ok(same);
    CHECK(same.out.find("initialized from") != std::string::npos);
  }

  TEST_CASE("pretrain: an unwritable --out and a damaged sidecar end cleanly, naming the file" * doctest::skip(kNoGdal)) {
    TempDir dir;
    std::ofstream(dir / "a-file") << "x";
    const fs::path under_file = dir / "a-file" / "run";
    const CommandResult r = run_rsd({"pretrain", "--config", write_tiny_config(dir / "c.toml", "byol", under_file, 1)});
    CHECK_MESSAGE(clean_failure(r, {(dir / "a-file").string(), "not a folder"}) == "", r.describe());
    // A sidecar that is valid JSON but lacks the counters.
    const fs::path run = dir / "run";
    const std::string config = write_tiny_config(dir / "d.toml", "byol", run, 1);
    require_ok(run_rsd({"pretrain", "--config", config}));
    const fs::path sidecar = run / "checkpoints" / "step-00000001.json";
    nlohmann::json j = nlohmann::json::parse(read_text(sidecar));
    j.erase("counters");
    std::ofstream(sidecar) << j.dump();
    const CommandResult resumed = run_rsd({"pretrain", "--config", config, "--set", "train.steps=2", "--resume"});
    CHECK_MESSAGE(clean_failure(resumed, {sidecar.string(), "counters"}) == "", resumed.describe());
  }

  TEST_CASE("pretrain: kill -9 during a checkpoint write, then --resume, ends bit-identical to a straight run" *
            doctest::skip(kNoGdal)) {
    TempDir dir;
    // A wider encoder, so that writing a checkpoint takes long enough to be caught in the act.
    const std::string wide = "model.width=64";
    const fs::path straight = dir / "straight", killed = dir / "killed";
    require_ok(run_rsd({"pretrain", "--config", write_tiny_config(dir / "s.toml", "byol", straight, 5), "--set", wide}));
    const std::string config = write_tiny_config(dir / "k.toml", "byol", killed, 5);
    std::atomic<bool> killed_in_write{false};
    CommandOptions o;
    o.watch = [&](int pid) {
      // The second or a later write: a complete checkpoint exists to resume from.
      if (!fs::exists(killed / "checkpoints" / "step-00000001.json")) return false;
      for (const std::string& f : temporary_files(killed / "checkpoints")) {
        if (f.find(".safetensors.tmp.") == std::string::npos) continue;
        ::kill(pid, SIGKILL);
        killed_in_write = true;
        return true;
      }
      return false;
    };
    const CommandResult first = run_rsd({"pretrain", "--config", config, "--set", wide}, o);
    REQUIRE_MESSAGE(killed_in_write, "the run ended before a checkpoint write could be interrupted: ", first.describe());
    CHECK(first.signal == SIGKILL);
    require_ok(run_rsd({"pretrain", "--config", config, "--set", wide, "--resume"}));
    CHECK(temporary_files(killed).empty());
    const SafetensorsFile a = SafetensorsFile::open((straight / "checkpoints" / "step-00000005.safetensors").string());
    const SafetensorsFile b = SafetensorsFile::open((killed / "checkpoints" / "step-00000005.safetensors").string());
    REQUIRE(a.names() == b.names());
    for (const std::string& name : a.names()) {
      CAPTURE(name);
      CHECK(a.read(name).to_host_doubles() == b.read(name).to_host_doubles());
    }
  }

  TEST_CASE("pretrain: a full disk is refused before training, or ends cleanly keeping the last checkpoint" *
            doctest::skip(kNoGdal)) {
    TempDir dir;
    const fs::path disk = dir / "disk";
    const fs::path run = disk / "run";
    // 256 KiB: less than one checkpoint of the tiny model (~2 MiB with BYOL's target and momentum).
    const std::string config = write_tiny_config(dir / "c.toml", "byol", run, 6);
    SmallDiskRun tiny = run_rsd_on_small_disk(disk, 256 << 10, {"pretrain", "--config", config});
    if (tiny.skipped) {
      MESSAGE("skipped: ", tiny.reason);
      return;
    }
    CHECK_MESSAGE(clean_failure(tiny.result, {run.string(), "free", "a checkpoint of this run", "needs about"}) == "",
                  tiny.result.describe());
    // Room for two checkpoints but not the three kept: the write that does not fit fails cleanly.
    SmallDiskRun small = run_rsd_on_small_disk(disk, 5 << 20, {"pretrain", "--config", config});
    CHECK_MESSAGE(clean_failure(small.result, {"No space left"}) == "", small.result.describe());
  }
  TEST_CASE("pretrain and embed: a truncated, huge-header, header-flipped or data-flipped checkpoint ends cleanly" *
            doctest::skip(kNoGdal)) {
    TempDir dir;
    const fs::path run = dir / "run";
    const std::string config = write_tiny_config(dir / "c.toml", "byol", run, 2);
    require_ok(run_rsd({"pretrain", "--config", config}));
    const fs::path good = run / "checkpoints" / "step-00000002.safetensors";
    const uint64_t bytes = fs::file_size(good);
    struct Damage {
      const char* name;
      std::function<void(const fs::path&)> apply;
      const char* says;
    };
    const Damage damages[] = {
        {"truncated", [&](const fs::path& p) { truncate_file(p, bytes / 2); }, "truncated"},
        {"huge header", [](const fs::path& p) { flip_byte(p, 6); }, "header"},
        {"flipped header byte", [](const fs::path& p) { flip_byte(p, 20); }, "step-00000002.safetensors"},
        // A bit flipped in a weight: only the checksum in the sidecar can tell.
        {"flipped data byte", [&](const fs::path& p) { flip_byte(p, bytes - 3); }, "does not match the CRC32C"},
    };
    for (const Damage& d : damages) {
      CAPTURE(d.name);
      const fs::path copy = dir / d.name;
      fs::create_directories(copy / "checkpoints");
      fs::copy_file(good, copy / "checkpoints" / good.filename());
      fs::copy_file(fs::path(good).replace_extension(".json"), copy / "checkpoints" / "step-00000002.json");
      d.apply(copy / "checkpoints" / good.filename());
      const std::string damaged = (copy / "checkpoints" / good.filename()).string();
      const CommandResult resumed = run_rsd({"pretrain", "--config", config, "--out", (dir / "resumed").string(),
                                             "--set", "train.steps=3", "--resume", damaged});
      CHECK_MESSAGE(clean_failure(resumed, {damaged, d.says}) == "", resumed.describe());
      const CommandResult embedded = run_rsd({"embed", "--checkpoint", damaged, "--input",
                                              (samples_dir() / "terramind-s1s2").string(), "--bands", "B04",
                                              "--out", (dir / "emb").string()});
      CHECK_MESSAGE(clean_failure(embedded, {damaged}) == "", embedded.describe());
      CHECK_FALSE(fs::exists(dir / "resumed" / "checkpoints" / "step-00000003.safetensors"));
    }
  }
}
