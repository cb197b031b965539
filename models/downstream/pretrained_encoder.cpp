#include "models/downstream/pretrained_encoder.h"

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "engine/autograd.h"
#include "engine/checkpoint.h"
#include "engine/rng.h"
#include "models/pretrain/method_factory.h"
#include "models/pretrain/run_sidecar.h"
#include "models/torchvision_layout.h"

namespace rsd::downstream {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// The metadata "format" of a file written by `rsd export-weights` (export_weights.h).
constexpr const char* kExportFormat = "rsd.encoder_weights";

// A tensor read from `file` must hold finite values only: a checkpoint of a run that diverged (or a
// damaged file) would give NaN features that look like any others downstream.
void require_finite(const Tensor& t, const std::string& name, const std::string& file) {
  const NonFiniteCount bad = count_non_finite(t);
  RSD_CHECK(bad.count == 0, file, ": tensor ", name, " holds ", bad.count, " non-finite value(s) (Inf or NaN; the first, ",
            bad.first_value, ", at index ", bad.first, ") of ", t.numel(),
            ": the weights come from a run that diverged or the file is damaged; nothing was computed. Use an "
            "earlier checkpoint of the run (its checkpoints/ folder keeps the last few)");
}

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
std::vector<std::string> encoder_bands(const pretrain::RunSidecar& sidecar, const std::string& method,
                                       const std::string& which, const std::vector<std::string>& requested,
                                       int channels, const std::string& ckpt) {
  const json& vb = sidecar.array_at("data.view_bands");
  const size_t view = which == "s1" ? 0 : (method == "dual-contrastive" ? 1 : 0);
  std::vector<std::string> fixed;
  try {
    fixed = vb.at(view).get<std::vector<std::string>>();
  } catch (const json::exception&) {
    fail(sidecar.path(), ": \"data.view_bands\" is ", vb.dump().substr(0, 80), ", not a list of ", view + 1,
         " band lists; the sidecar is damaged: use another checkpoint");
  }
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

std::string shape_text(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + ")";
}

// `path` is a file written by export-weights: opened, else nullopt (a checkpoint, a folder, ...).
// A safetensors file that is neither an export nor a checkpoint (no sidecar beside it, no step in
// its metadata) is an error saying what it is and what embed and eval take.
std::optional<SafetensorsFile> exported_encoder_file(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  const bool has_sidecar = fs::exists(checkpoint_sidecar_path(path), ec);
  SafetensorsFile file = SafetensorsFile::open(path);
  const auto& meta = file.metadata();
  const auto format = meta.find("format");
  if (format != meta.end() && format->second == kExportFormat) return file;
  if (has_sidecar || meta.count("step") != 0 || (format != meta.end() && format->second == kCheckpointFormat))
    return std::nullopt;  // a checkpoint (load_checkpoint says what is wrong with it, if anything)
  fail(path, ": not an rsd training checkpoint (no sidecar ", checkpoint_sidecar_path(path),
       " beside it, no \"step\" in its metadata) nor an encoder written by rsd export-weights (its metadata has no "
       "format \"", kExportFormat, "\"); give a checkpoint (a run's checkpoints/ folder or one of its "
       "step-N.safetensors files) or an export-weights file. Weights from elsewhere can start a pretraining run "
       "(rsd pretrain --init)");
}

// A metadata entry of an exported encoder, which must be there.
const std::string& export_entry(const SafetensorsFile& file, const std::string& key) {
  const auto it = file.metadata().find(key);
  RSD_CHECK(it != file.metadata().end(), file.path(), ": an export-weights file without \"", key,
            "\" in its metadata; export the encoder again from its checkpoint (rsd export-weights)");
  return it->second;
}

// An encoder from an export-weights file: the architecture, bands and statistics from its metadata,
// the tensors under torchvision's names (conv weights (K, C, R, S)), each checked finite.
PretrainedEncoder load_exported_encoder(const SafetensorsFile& file, const std::string& which,
                                        const std::vector<std::string>& bands, Device device) {
  const std::string& path = file.path();
  PretrainedEncoder e;
  e.method = export_entry(file, "method");
  e.which = export_entry(file, "encoder");
  RSD_CHECK(which.empty() || which == e.which, path, ": this file (rsd export-weights) holds one encoder, the ",
            e.method, " '", e.which, "' encoder; got --encoder ", which,
            ". Export the encoder you want from the checkpoint (rsd export-weights CKPT OUT --encoder ", which,
            "), or give the checkpoint itself");
  e.prefix = "";
  pretrain::ModelConfig mc;
  mc.arch = export_entry(file, "arch");
  RSD_CHECK(mc.arch == "resnet18" || mc.arch == "resnet34" || mc.arch == "resnet50", path, ": arch \"", mc.arch,
            "\" in its metadata; rsd exports resnet18, resnet34 or resnet50");
  mc.stem = export_entry(file, "stem");
  int channels = 0;
  try {
    mc.width = std::stoi(export_entry(file, "width"));
    channels = std::stoi(export_entry(file, "in_channels"));
  } catch (const std::logic_error&) {
    fail(path, ": \"width\" or \"in_channels\" in its metadata is not a number");
  }
  RSD_CHECK(mc.width >= 1 && channels >= 1, path, ": width ", mc.width, " and in_channels ", channels,
            " in its metadata must be positive");
  std::vector<std::string> stored;
  try {
    stored = json::parse(export_entry(file, "bands")).get<std::vector<std::string>>();
  } catch (const json::exception& x) {
    fail(path, ": \"bands\" in its metadata is not a JSON list of names (", x.what(), ")");
  }
  RSD_CHECK(static_cast<int>(stored.size()) == channels, path, ": its metadata lists ", stored.size(),
            " band(s) for ", channels, " input channel(s)");
  if (bands.empty() || bands == stored) {
    e.bands = stored;
  } else {
    // RS-BYOL encoders read any band (drawn per sample in pretraining); the others read fixed bands.
    RSD_CHECK(e.method == "byol" && static_cast<int>(bands.size()) == channels, path,
              ": the encoder reads the bands ", json(stored).dump(), " in this order (its metadata); got --bands ",
              json(bands).dump(), e.method == "byol" ? str_cat(": name ", channels, " band(s)") : std::string(
                  ": leave --bands out or give exactly those"));
    e.bands = bands;
  }
  e.statistics = data::BandStatistics::from_json(export_entry(file, "statistics"), path);
  e.patch = 0;  // not recorded in an export
  const auto id = file.metadata().find("model_id");
  e.model_id = id != file.metadata().end() ? id->second : str_cat(path, " (exported)");
  e.params = std::make_unique<ParameterRegistry>(false);
  Generator gen(0);
  e.net = std::make_unique<models::ResNet>(models::LayerContext{*e.params, gen, device, e.prefix},
                                           pretrain::encoder_config(mc, channels));
  std::set<std::string> expected;
  std::vector<std::string> missing;
  const auto load = [&](const std::string& name, Tensor dst) {
    expected.insert(name);
    if (!file.contains(name)) {
      missing.push_back(name);
      return;
    }
    const Shape& want = dst.shape();
    const Shape stored_shape = file.shape(name);
    Tensor host;
    if (want.size() == 4) {
      const Shape kcrs{want[0], want[3], want[1], want[2]};
      RSD_CHECK(stored_shape == kcrs, path, ": tensor ", name, " is ", shape_text(stored_shape), ", but a ", mc.arch,
                " of width ", mc.width, " and ", channels, " channel(s) needs ", shape_text(kcrs),
                " (torchvision's (K, C, R, S)); the file does not match its metadata");
      host = models::conv_weight_from_torchvision(file.read(name));
    } else {
      RSD_CHECK(stored_shape == want, path, ": tensor ", name, " is ", shape_text(stored_shape), ", but a ", mc.arch,
                " of width ", mc.width, " needs ", shape_text(want), "; the file does not match its metadata");
      host = file.read(name);
    }
    require_finite(host, name, path);
    dst.copy_from(host);  // converts the dtype, to the encoder's device
  };
  for (const Parameter* p : e.params->parameters()) load(p->name, p->value);
  for (const auto& [name, buffer] : e.params->buffers()) load(name, buffer);
  std::vector<std::string> unexpected;
  for (const std::string& name : file.names())
    if (expected.count(name) == 0) unexpected.push_back(name);
  if (!missing.empty() || !unexpected.empty())
    fail(path, ": the tensors do not make the ", mc.arch, " its metadata describes: ", missing.size(),
         " missing (", missing.empty() ? std::string("none") : missing.front(), missing.size() > 1 ? ", ..." : "",
         "), ", unexpected.size(), " not part of it (", unexpected.empty() ? std::string("none") : unexpected.front(),
         unexpected.size() > 1 ? ", ..." : "", "); export the encoder again from its checkpoint");
  return e;
}

PretrainedEncoder folded_for_inference(PretrainedEncoder e) {
  e.fold_for_inference();
  return e;
}

}  // namespace

void PretrainedEncoder::fold_for_inference() {
  folded = params->device().is_cpu() ? std::make_shared<const models::FoldedResNet>(net->fold()) : nullptr;
}

Tensor PretrainedEncoder::features(const Tensor& x) const {
  NoGradScope no_grad;
  return folded ? folded->forward(x) : net->forward(x, false);
}

Tensor PretrainedEncoder::feature_map(const Tensor& x) const {
  NoGradScope no_grad;
  return folded ? folded->feature_map(x) : net->feature_map(x, false);
}

PretrainedEncoder load_pretrained_encoder(const std::string& checkpoint, const std::string& which_in,
                                          const std::vector<std::string>& bands, Device device) {
  if (const std::optional<SafetensorsFile> exported = exported_encoder_file(checkpoint))
    return folded_for_inference(load_exported_encoder(*exported, which_in, bands, device));
  const LoadedCheckpoint ckpt = load_checkpoint(checkpoint);
  const pretrain::RunSidecar sidecar(ckpt.sidecar_json, checkpoint_sidecar_path(ckpt.path));
  PretrainedEncoder e;
  e.method = sidecar.string_at("method");
  e.which = which_in.empty() ? (e.method == "dual-contrastive" ? "s2" : "online") : which_in;
  e.prefix = prefix_for(e.method, e.which, ckpt.path);
  pretrain::ModelConfig mc;
  mc.arch = sidecar.string_at("config.model.arch");
  mc.stem = sidecar.string_at("config.model.stem");
  mc.width = static_cast<int>(sidecar.int_at("config.model.width"));
  mc.zero_init_residual = sidecar.bool_at("config.model.zero_init_residual");
  const std::string conv1 = e.prefix + "conv1.weight";
  RSD_CHECK(ckpt.file.contains(conv1), ckpt.path, ": no tensor ", conv1);
  const int channels = static_cast<int>(ckpt.file.shape(conv1).back());  // (K, R, S, C)
  e.bands = encoder_bands(sidecar, e.method, e.which, bands, channels, ckpt.path);
  e.statistics = data::BandStatistics::from_json(sidecar.object_at("statistics").dump(), sidecar.path());
  e.patch = sidecar.int_at("data.patch");
  e.model_id = str_cat(ckpt.path, "@step ", ckpt.step);
  e.params = std::make_unique<ParameterRegistry>(false);
  Generator gen(0);
  e.net = std::make_unique<models::ResNet>(models::LayerContext{*e.params, gen, device, e.prefix},
                                           pretrain::encoder_config(mc, channels));
  for (const Parameter* p : e.params->parameters()) {
    Tensor t = p->value;
    ckpt.file.read_into(p->name, t);
    require_finite(t, p->name, ckpt.path);
  }
  for (const auto& [name, buffer] : e.params->buffers()) {
    Tensor t = buffer;
    ckpt.file.read_into(name, t);
    require_finite(t, name, ckpt.path);
  }
  return folded_for_inference(std::move(e));
}

std::vector<ProtectedInput> checkpoint_inputs(const std::string& checkpoint) {
  std::vector<ProtectedInput> out;
  std::error_code ec;
  if (fs::is_directory(checkpoint, ec)) {
    for (fs::directory_iterator it(checkpoint, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string ext = it->path().extension().string();
      if (ext == ".safetensors" || ext == ".json") out.push_back({it->path().string(), "a checkpoint file", false});
    }
    return out;
  }
  out.push_back({checkpoint, "the checkpoint", false});
  out.push_back({checkpoint_sidecar_path(checkpoint), "the checkpoint's sidecar", false});
  return out;
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
  return folded_for_inference(std::move(e));
}

}  // namespace rsd::downstream
