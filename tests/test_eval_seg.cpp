// `rsd eval seg`: bilinear upsampling by hand, and the segmentation probe end to end on the
// shipped Sen1Floods11 chip and TerraMesh LULC maps with a tiny dual-contrastive checkpoint.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "engine/error.h"
#include "models/downstream/seg_probe.h"
#include "models/pretrain/config.h"
#include "models/pretrain/trainer.h"
#include "tests/support/test_paths.h"

using namespace rsd;
using test::kNoGdal;
namespace fs = std::filesystem;
using test::samples_dir;

namespace {

// A 2-step dual-contrastive run on TerraMesh (S1 + S2 encoders, small-patch stem, stride 8); returns the checkpoint
// file.
fs::path tiny_dual_checkpoint(const fs::path& out) {
  const std::string text = str_cat(
      "method = \"dual-contrastive\"\nseed = 3\ndevice = \"cpu\"\n", "[data]\npath = \"",
      (samples_dir() / "terramind-s1s2").string(), "\"\npatch_size = 16\nrepeat = 2\nworkers = 2\n",
      "[model]\narch = \"resnet18\"\nstem = \"small-patch\"\nwidth = 8\nprojector_hidden = 32\nprojector_out = 16\n",
      "[train]\nbatch_size = 4\nsteps = 2\noptimizer = \"lars\"\nlr = 0.3\nwarmup_fraction = 0.5\n",
      "[log]\nout_dir = \"", out.string(), "\"\nevery = 1\nprogress = false\n",
      "[checkpoint]\nevery = 2\nkeep_last = 1\n");
  pretrain::PretrainRunOptions quiet;
  quiet.quiet = true;
  return pretrain::run_pretrain(pretrain::parse_pretrain_config(text, "<test_eval_seg>"), quiet).checkpoint;
}

}  // namespace

TEST_SUITE("downstream") {
  TEST_CASE("bilinear upsampling reads the map at half-pixel centres, clamped at the edges") {
    // A 2 x 2 map, one channel, stride 2: pixel centres 0.5 / 2 - 0.5 = -0.25 (clamped to 0),
    // 0.25, 0.75, 1.25 (clamped to 1).
    const std::vector<float> map = {0, 1, 2, 3};  // (y, x): (0,0)=0 (0,1)=1 (1,0)=2 (1,1)=3
    const std::vector<float> up = downstream::upsample_bilinear(map, 2, 2, 1, 2, 4, 4);
    CHECK(up[0] == doctest::Approx(0.0));
    CHECK(up[1] == doctest::Approx(0.25));
    CHECK(up[2] == doctest::Approx(0.75));
    CHECK(up[3] == doctest::Approx(1.0));
    CHECK(up[4 * 1 + 0] == doctest::Approx(0.5));  // y 0.25: 0 + 0.25 * 2
    CHECK(up[4 * 3 + 3] == doctest::Approx(3.0));
    CHECK(up[4 * 2 + 1] == doctest::Approx(0.75 * 2 + 0.25));
    CHECK_THROWS_AS(downstream::upsample_bilinear(map, 3, 2, 1, 2, 4, 4), Error);
  }

  TEST_CASE("eval seg on Sen1Floods11 (water IoU) and TerraMesh LULC with baselines" * doctest::skip(kNoGdal)) {
    const test::TempDir tmp("rsd_eval_seg");  // removed even when a check throws
    const fs::path dir = tmp.path();
    const fs::path run = tiny_dual_checkpoint(dir / "run");
    downstream::SegOptions o;
    o.checkpoint = run.string();
    o.data = (samples_dir() / "sen1floods11").string();
    o.encoder = "s1";
    o.quiet = true;
    o.max_train_pixels = 2000;
    o.logistic.steps = 100;
    o.logistic.l2_grid = {1e-3, 1e-1};
    o.out_dir = (dir / "seg").string();
    const downstream::SegReport floods = downstream::run_segmentation_probe(o);
    CHECK(floods.class_values == std::vector<int32_t>{0, 1});  // -1 ignored
    REQUIRE(floods.results.size() == 3);
    for (const downstream::SegResult& r : floods.results) {
      CAPTURE(r.features);
      CHECK(r.train_pixels <= 2000);
      CHECK(r.test_pixels > 0);
      CHECK(r.miou >= 0.0);
      CHECK(r.miou <= 1.0);
    }
    // S1 backscatter separates water linearly: the band-values baseline finds most of it.
    CHECK(floods.results[2].iou[1] > 0.5);
    CHECK(fs::exists(fs::path(o.out_dir) / "results.json"));

    o.data = (samples_dir() / "terramind-s1s2").string();
    o.encoder = "s2";
    o.tile = 56;
    o.out_dir.clear();
    const downstream::SegReport lulc = downstream::run_segmentation_probe(o);
    CHECK(lulc.class_values.size() >= 2);
    REQUIRE(lulc.results.size() == 3);
    o.tile = 60;  // not a multiple of the stride 8
    CHECK_THROWS_AS(downstream::run_segmentation_probe(o), Error);
  }
}
