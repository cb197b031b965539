// Helpers of the downstream tests (tests/test_embed_*.cpp, test_pca.cpp, test_export_weights.cpp,
// test_output_checks.cpp): checkpoints of tiny pretraining runs, the embed options and encoder
// inputs they compare with, the Python client (tests/python/torchvision_embed.py, Debian's
// /usr/bin/python3), the message of a failing call, and how far rows are from orthonormal.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "data/layouts.h"
#include "engine/error.h"
#include "engine/tensor.h"
#include "models/downstream/embed_chips.h"
#include "models/downstream/embed_inputs.h"
#include "models/downstream/pretrained_encoder.h"
#include "models/pretrain/config.h"
#include "models/pretrain/trainer.h"
#include "tests/support/harness.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_paths.h"

namespace rsd::test {

// The checkpoint of a 2-step dual-contrastive run on data/samples/terramind-s1s2 (its S2 encoder
// reads the 13 L1C bands, as EuroSAT-MS and Sen1Floods11 hold them).
inline std::string tiny_checkpoint(const fs::path& out, int width, const std::string& stem) {
  const std::string text =
      str_cat("method = \"dual-contrastive\"\nseed = 5\ndevice = \"cpu\"\n", "[data]\npath = \"",
              (samples_dir() / "terramind-s1s2").string(), "\"\npatch_size = 16\nrepeat = 2\nworkers = 1\n",
              "[model]\narch = \"resnet18\"\nstem = \"", stem, "\"\nwidth = ", width, "\nprojector_hidden = 32\n",
              "projector_out = 16\n", "[train]\nbatch_size = 4\nsteps = 2\noptimizer = \"lars\"\nlr = 0.3\n",
              "[log]\nout_dir = \"", out.string(), "\"\nevery = 1\nprogress = false\n",
              "[checkpoint]\nevery = 2\nkeep_last = 1\n");
  pretrain::PretrainRunOptions quiet;
  quiet.quiet = true;
  const pretrain::PretrainResult r =
      pretrain::run_pretrain(pretrain::parse_pretrain_config(text, "<test_embed>"), quiet);
  REQUIRE(!r.checkpoint.empty());
  return r.checkpoint;
}

inline downstream::EmbedOptions embed_options(const fs::path& input, const fs::path& out) {
  downstream::EmbedOptions o;
  o.input = input.string();
  o.out_dir = out.string();
  o.progress = false;
  o.batch = 7;  // not a divisor of the chip count: the last batch is partial
  return o;
}

// torchvision's ResNet with exported weights beside rsd embed (tests/python/torchvision_embed.py).
inline std::string run_python(const std::string& args) { return run_python_client("torchvision_embed.py", args); }

// The encoder inputs of every sample of a dataset folder, stacked: (N, H, W, C).
inline Tensor stacked_inputs(const data::Dataset& ds, const downstream::PretrainedEncoder& enc) {
  std::vector<data::Raster> inputs;
  for (const data::SampleRef& ref : ds.samples)
    inputs.push_back(downstream::encoder_input(data::load_sample(ref), enc, nullptr));
  const data::Raster& first = inputs.at(0);
  Tensor x =
      Tensor::empty({static_cast<int64_t>(inputs.size()), first.height, first.width, first.channels()}, DType::f32);
  float* dst = x.data<float>();
  for (const data::Raster& r : inputs) {
    std::copy(r.pixels.begin(), r.pixels.end(), dst);
    dst += r.pixels.size();
  }
  return x;
}


// max |V V^T - I| over the rows of v (m, n).
inline double orthonormality_error(const std::vector<double>& v, int64_t m, int64_t n) {
  double worst = 0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < m; ++j) {
      double d = 0;
      for (int64_t t = 0; t < n; ++t) d += v[static_cast<size_t>(i * n + t)] * v[static_cast<size_t>(j * n + t)];
      worst = std::max(worst, std::fabs(d - (i == j ? 1.0 : 0.0)));
    }
  return worst;
}

}  // namespace rsd::test
