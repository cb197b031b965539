// `rsd pretrain` end to end on the shipped real samples (TerraMesh S1/S2, read with GDAL): every
// method runs, writes its checkpoint, metrics and plot; a run stopped and resumed gives
// bit-identical losses to an uninterrupted one on the CPU; bad setups fail with clear errors.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/checkpoint.h"
#include "engine/safetensors.h"
#include "models/pretrain/config.h"
#include "models/pretrain/method_factory.h"
#include "models/pretrain/run_checkpoint.h"
#include "models/pretrain/trainer.h"
#include "tests/support/test_paths.h"

using namespace rsd;
using namespace rsd::test;
namespace fs = std::filesystem;

namespace {

// A tiny run of `method` on data/samples/terramind-s1s2 in `out`.
pretrain::PretrainConfig tiny_config(const std::string& method, const fs::path& out, int64_t steps) {
  const std::string text = str_cat(
      "method = \"", method, "\"\nseed = 3\ndevice = \"cpu\"\n",
      "[data]\npath = \"", (samples_dir() / "terramind-s1s2").string(), "\"\npatch_size = 16\nrepeat = 4\nworkers = 2\n",
      "[model]\narch = \"resnet18\"\nstem = \"small-patch\"\nwidth = 8\nprojector_hidden = 32\nprojector_out = 16\n"
      "predictor_hidden = 32\n",
      "[train]\nbatch_size = 4\nsteps = ", steps, "\noptimizer = \"lars\"\nlr = 0.3\nwarmup_fraction = 0.2\n",
      "[log]\nout_dir = \"", out.string(), "\"\nevery = 2\nprogress = false\n",
      "[checkpoint]\nevery = 3\nkeep_last = 2\n");
  return pretrain::parse_pretrain_config(text, "<test>");
}

pretrain::PretrainRunOptions quiet() {
  pretrain::PretrainRunOptions o;
  o.quiet = true;
  return o;
}

}  // namespace

TEST_SUITE("pretrain") {
  TEST_CASE("every method trains on the shipped samples and writes checkpoints, metrics and a plot" *
            doctest::skip(kNoGdal)) {
    for (const char* method : {"byol", "dual-contrastive", "simclr"}) {
      CAPTURE(method);
      TempDir dir;
      const pretrain::PretrainResult r = pretrain::run_pretrain(tiny_config(method, dir.path(), 4), quiet());
      REQUIRE(r.losses.size() == 4);
      for (double l : r.losses) CHECK(std::isfinite(l));
      CHECK(fs::exists(r.checkpoint));
      CHECK(fs::exists(fs::path(r.checkpoint).replace_extension(".json")));
      CHECK(fs::exists(r.plot));
      CHECK(fs::exists(dir.path() / "config.toml"));
      std::ifstream in(r.metrics);
      std::string line;
      int rows = 0;
      while (std::getline(in, line)) {
        const nlohmann::json j = nlohmann::json::parse(line);
        for (const char* key : {"step", "loss", "lr", "grad_norm", "samples_per_s", "embedding_std", "mean_offdiag_cosine"})
          CHECK_MESSAGE(j.contains(key), key);
        ++rows;
      }
      CHECK(rows == 2);
    }
  }

  TEST_CASE("a stopped and resumed run repeats the uninterrupted run's losses bit for bit" * doctest::skip(kNoGdal)) {
    for (const char* method : {"byol", "dual-contrastive"}) {
      CAPTURE(method);
      TempDir straight_dir, resumed_dir;
      const pretrain::PretrainResult straight =
          pretrain::run_pretrain(tiny_config(method, straight_dir.path(), 6), quiet());
      pretrain::PretrainRunOptions first = quiet();
      first.stop_after = 3;  // the checkpoint of step 3 is the last thing it writes
      const pretrain::PretrainResult part1 = pretrain::run_pretrain(tiny_config(method, resumed_dir.path(), 6), first);
      REQUIRE(part1.losses.size() == 3);
      pretrain::PretrainRunOptions again = quiet();
      again.resume = (resumed_dir.path() / "checkpoints").string();
      const pretrain::PretrainResult part2 = pretrain::run_pretrain(tiny_config(method, resumed_dir.path(), 6), again);
      REQUIRE(part2.first_step == 3);
      std::vector<double> joined = part1.losses;
      joined.insert(joined.end(), part2.losses.begin(), part2.losses.end());
      REQUIRE(joined.size() == straight.losses.size());
      for (size_t i = 0; i < joined.size(); ++i) {
        CAPTURE(i);
        CHECK(joined[i] == straight.losses[i]);  // bit-identical, not approximately
      }
      // keep_last = 2: steps 3 and 6 remain.
      CHECK(CheckpointDir((resumed_dir.path() / "checkpoints").string(), 2).list().size() == 2);
    }
  }

  TEST_CASE("bad setups fail with errors that say what to do" * doctest::skip(kNoGdal)) {
    TempDir dir;
    pretrain::PretrainConfig c = tiny_config("byol", dir.path(), 2);
    c.train.batch_size = 64;
    c.data.repeat = 1;
    CHECK_THROWS_WITH_AS(pretrain::run_pretrain(c, quiet()), doctest::Contains("raise data.repeat"), Error);
    c = tiny_config("byol", dir.path(), 2);
    c.data.patch_size = 512;
    CHECK_THROWS_WITH_AS(pretrain::run_pretrain(c, quiet()), doctest::Contains("patch_size"), Error);
    c = tiny_config("byol", dir.path(), 2);
    c.data.path = (dir.path() / "missing").string();
    CHECK_THROWS_AS(pretrain::run_pretrain(c, quiet()), Error);
    // A checkpoint of another method cannot be resumed.
    const pretrain::PretrainResult r = pretrain::run_pretrain(tiny_config("simclr", dir.path() / "a", 2), quiet());
    pretrain::PretrainRunOptions o = quiet();
    o.resume = r.checkpoint;
    CHECK_THROWS_WITH_AS(pretrain::run_pretrain(tiny_config("byol", dir.path() / "b", 2), o),
                         doctest::Contains("simclr"), Error);
  }

  TEST_CASE("--init loads weights by name, from a checkpoint or a torchvision-layout file" * doctest::skip(kNoGdal)) {
    TempDir dir;
    const pretrain::PretrainConfig c = tiny_config("simclr", dir.path() / "run", 2);
    const pretrain::PretrainResult r = pretrain::run_pretrain(c, quiet());
    const SafetensorsFile ckpt = SafetensorsFile::open(r.checkpoint);
    auto fresh = pretrain::make_method(c, {13, 13}, Device::cpu(), 2);
    CHECK(pretrain::load_initial_weights(r.checkpoint, *fresh).loaded > 0);
    for (const Parameter* p : fresh->params().parameters()) {
      CAPTURE(p->name);
      CHECK(p->value.to_host_doubles() == ckpt.read(p->name).to_host_doubles());
    }
    // torchvision's names (no prefix) and conv layout (K, C, R, S): conv1 of a 13-band encoder.
    const Parameter* conv1 = fresh->params().find("encoder.conv1.weight");
    REQUIRE(conv1 != nullptr);
    const Shape ours = conv1->value.shape();  // (K, R, S, C)
    const int64_t K = ours[0], R = ours[1], S = ours[2], C = ours[3];
    std::vector<double> tv(static_cast<size_t>(K * C * R * S));
    for (size_t i = 0; i < tv.size(); ++i) tv[i] = 0.001 * static_cast<double>(i);
    const fs::path file = dir.path() / "torchvision.safetensors";
    write_safetensors(file.string(), {{"conv1.weight", Tensor::from_vector(tv, {K, C, R, S}, DType::f32)}});
    auto other = pretrain::make_method(c, {13, 13}, Device::cpu(), 2);
    // One tensor of the encoder: a module loaded in part is refused unless asked for.
    CHECK_THROWS_WITH_AS(pretrain::load_initial_weights(file.string(), *other), doctest::Contains("--init-partial"),
                         Error);
    const pretrain::InitReport report = pretrain::load_initial_weights(file.string(), *other, true);
    CHECK(report.loaded == 1);
    CHECK(report.partial_module);
    const std::vector<double> got = other->params().find("encoder.conv1.weight")->value.to_host_doubles();
    for (int64_t k = 0; k < K; ++k)
      for (int64_t ch = 0; ch < C; ++ch)
        for (int64_t y = 0; y < R; ++y)
          for (int64_t x = 0; x < S; ++x)
            REQUIRE(got[static_cast<size_t>(((k * R + y) * S + x) * C + ch)] ==
                    doctest::Approx(tv[static_cast<size_t>(((k * C + ch) * R + y) * S + x)]));
    // Nothing matching is an error that names the file.
    write_safetensors((dir.path() / "unrelated.safetensors").string(), {{"x", Tensor::zeros({2}, DType::f32)}});
    CHECK_THROWS_WITH_AS(pretrain::load_initial_weights((dir.path() / "unrelated.safetensors").string(), *other),
                         doctest::Contains("unrelated.safetensors"), Error);
  }

  TEST_CASE("RS-BYOL's view modes and modalities: three-channel and single-channel, ms and ms+sar" *
            doctest::skip(kNoGdal)) {
    for (const char* mode : {"single-channel", "three-channel"}) {
      for (const char* modality : {"ms", "ms+sar"}) {
        CAPTURE(mode);
        CAPTURE(modality);
        TempDir dir;
        pretrain::PretrainConfig c = tiny_config("byol", dir.path(), 2);
        c.byol.view_mode = mode;
        c.byol.modality = modality;
        const pretrain::PretrainResult r = pretrain::run_pretrain(c, quiet());
        REQUIRE(r.losses.size() == 2);
        for (double l : r.losses) CHECK(std::isfinite(l));
        const int64_t channels = std::string(mode) == "three-channel" ? 3 : 1;
        CHECK(SafetensorsFile::open(r.checkpoint).shape("online.encoder.conv1.weight").back() == channels);
      }
    }
  }
}
