// `rsd export-weights`: the encoder of a tiny pretraining run under torchvision's names; loaded
// strictly into torchvision's ResNet (tests/python/torchvision_embed.py, Debian's /usr/bin/python3),
// it gives the same pooled features as `rsd embed` on the same normalized input.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "data/layouts.h"
#include "engine/npy.h"
#include "engine/safetensors.h"
#include "models/downstream/embed_chips.h"
#include "models/downstream/export_weights.h"
#include "tests/support/embed_test_util.h"
#include "tests/support/harness.h"
#include "tests/support/test_paths.h"

using namespace rsd;
using namespace rsd::test;
namespace fs = std::filesystem;

TEST_SUITE("downstream") {
  TEST_CASE("export-weights: torchvision's ResNet with the exported weights gives rsd embed's features" *
            doctest::skip(kNoGdal)) {
    TempDir dir;
    // Width 64: torchvision's ResNet has no base-width parameter.
    const std::string ckpt = tiny_checkpoint(dir.path() / "run", 64, "standard");
    const downstream::PretrainedEncoder enc = downstream::load_pretrained_encoder(ckpt, "s2", {}, Device::cpu());
    const fs::path places = samples_dir() / "terramind-s1s2";
    const downstream::EmbedResult r = downstream::embed_chips(enc, embed_options(places, dir.path() / "emb"));
    CHECK(r.dim == 512);

    const fs::path weights = dir.path() / "encoder.safetensors";
    const int64_t written = downstream::export_weights(ckpt, weights.string(), "s2", {});
    const SafetensorsFile file = SafetensorsFile::open(weights.string());
    CHECK(written == static_cast<int64_t>(file.names().size()));
    CHECK(file.shape("conv1.weight") == Shape{64, 13, 7, 7});  // (K, C, R, S)
    CHECK(file.contains("layer4.1.bn2.running_var"));
    CHECK(file.metadata().at("model_id") == enc.model_id);
    CHECK(data::BandStatistics::from_json(file.metadata().at("statistics")) == enc.statistics);

    const fs::path input = dir.path() / "input.npy", out = dir.path() / "torchvision.npy";
    write_npy(input.string(), stacked_inputs(data::discover(places.string()), enc));
    run_python(str_cat("features --weights '", weights.string(), "' --input '", input.string(), "' --out '",
                       out.string(), "'"));
    const Tensor theirs = read_npy(out.string()), ours = read_npy(r.embeddings);
    REQUIRE(theirs.shape() == ours.shape());
    const double err = max_relative_error(theirs.to_host_doubles(), ours.to_host_doubles());
    MESSAGE("torchvision vs rsd embed, max relative error ", err);
    CHECK(err < 1e-4);
  }
}
