#include "tools/downstream/pretrained_encoder.h"

#include <nlohmann/json.hpp>

#include "engine/autograd.h"
#include "engine/checkpoint.h"
#include "engine/rng.h"
#include "tools/pretrain/method_factory.h"

namespace rsd::tools {

using nlohmann::json;

namespace {

std::string prefix_for(const std::string& method, const std::string& which, const std::string& ckpt) {
  if (method == "byol") {
    RSD_CHECK(which == "online", ckpt, ": a byol checkpoint has one encoder to take, 'online'; got '", which, "'");
    return "online.encoder.";
  }
  if (method == "simclr") {
    RSD_CHECK(which == "online", ckpt, ": a simclr checkpoint has one encoder, 'online'; got '", which, "'");
    return "encoder.";
  }
  RSD_CHECK(method == "dual-contrastive", ckpt, ": unknown method '", method, "' in the sidecar");
  RSD_CHECK(which == "s1" || which == "s2", ckpt, ": a dual-contrastive checkpoint holds encoders 's1' and 's2'; got '",
            which, "'");
  return which + ".encoder.";
}

// The bands the encoder reads: the checkpoint's fixed view bands, or the caller's for RS-BYOL.
std::vector<std::string> encoder_bands(const json& sidecar, const std::string& method, const std::string& which,
                                       const std::vector<std::string>& requested, int channels,
                                       const std::string& ckpt) {
  const json& vb = sidecar.at("data").at("view_bands");
  const std::vector<std::string> fixed = vb.at(which == "s1" ? 0 : (method == "dual-contrastive" ? 1 : 0))
                                             .get<std::vector<std::string>>();
  if (fixed.empty()) {
    RSD_CHECK(static_cast<int>(requested.size()) == channels, ckpt, ": this ", method, " encoder reads ", channels,
              " band(s) drawn per sample in pretraining; name ", channels, " band(s) to feed it (e.g. --bands ",
              channels == 1 ? "B04" : "B04,B03,B02", "), got ", requested.size());
    return requested;
  }
  RSD_CHECK(requested.empty() || requested == fixed, ckpt, ": the encoder was trained on bands in a fixed order; ",
            "leave the bands out or give exactly those");
  return fixed;
}

}  // namespace

Tensor PretrainedEncoder::features(const Tensor& x) const {
  NoGradScope no_grad;
  return net->forward(x, false);
}

PretrainedEncoder load_pretrained_encoder(const std::string& checkpoint, const std::string& which_in,
                                          const std::vector<std::string>& bands, Device device) {
  const LoadedCheckpoint ckpt = load_checkpoint(checkpoint);
  const json sidecar = json::parse(ckpt.sidecar_json);
  PretrainedEncoder e;
  e.method = sidecar.at("method").get<std::string>();
  e.which = which_in.empty() ? (e.method == "dual-contrastive" ? "s2" : "online") : which_in;
  e.prefix = prefix_for(e.method, e.which, ckpt.path);
  const json& model = sidecar.at("config").at("model");
  ModelConfig mc;
  mc.arch = model.at("arch").get<std::string>();
  mc.stem = model.at("stem").get<std::string>();
  mc.width = model.at("width").get<int>();
  mc.zero_init_residual = model.at("zero_init_residual").get<bool>();
  const std::string conv1 = e.prefix + "conv1.weight";
  RSD_CHECK(ckpt.file.contains(conv1), ckpt.path, ": no tensor ", conv1);
  const int channels = static_cast<int>(ckpt.file.shape(conv1).back());  // (K, R, S, C)
  e.bands = encoder_bands(sidecar, e.method, e.which, bands, channels, ckpt.path);
  e.statistics = data::BandStatistics::from_json(sidecar.at("statistics").dump(), ckpt.path);
  e.patch = sidecar.at("data").at("patch").get<int64_t>();
  e.model_id = str_cat(ckpt.path, "@step ", ckpt.step);
  e.params = std::make_unique<ParameterRegistry>(false);
  Generator gen(0);
  e.net = std::make_unique<models::ResNet>(models::LayerContext{*e.params, gen, device, e.prefix},
                                           encoder_config(mc, channels));
  for (const Parameter* p : e.params->parameters()) {
    Tensor t = p->value;
    ckpt.file.read_into(p->name, t);
  }
  for (const auto& [name, buffer] : e.params->buffers()) {
    Tensor t = buffer;
    ckpt.file.read_into(name, t);
  }
  return e;
}

PretrainedEncoder random_like(const PretrainedEncoder& trained, uint64_t seed) {
  PretrainedEncoder e;
  e.bands = trained.bands;
  e.statistics = trained.statistics;
  e.method = "random";
  e.which = trained.which;
  e.prefix = trained.prefix;
  e.patch = trained.patch;
  e.model_id = str_cat("random(seed ", seed, ")");
  e.params = std::make_unique<ParameterRegistry>(false);
  Generator gen(seed);
  const Device device = trained.params->device();
  e.net = std::make_unique<models::ResNet>(models::LayerContext{*e.params, gen, device, e.prefix},
                                           trained.net->config());
  return e;
}

}  // namespace rsd::tools
