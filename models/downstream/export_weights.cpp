#include "models/downstream/export_weights.h"

#include <nlohmann/json.hpp>

#include "engine/safetensors.h"
#include "models/torchvision_layout.h"

namespace rsd::downstream {

namespace {

Tensor host_copy(const Tensor& t) {
  Tensor out = Tensor::empty(t.shape(), t.dtype());
  out.copy_from(t);
  return out;
}

std::string torchvision_name(const std::string& name, const std::string& prefix) {
  RSD_CHECK(name.compare(0, prefix.size(), prefix) == 0, "export-weights: tensor ", name, " lacks the prefix ", prefix);
  return name.substr(prefix.size());
}

}  // namespace

std::vector<std::pair<std::string, Tensor>> torchvision_state(const PretrainedEncoder& enc) {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const Parameter* p : static_cast<const ParameterRegistry&>(*enc.params).parameters()) {
    const Tensor& v = p->value;
    out.emplace_back(torchvision_name(p->name, enc.prefix),
                     v.ndim() == 4 ? models::conv_weight_to_torchvision(v) : host_copy(v));
  }
  for (const auto& [name, buffer] : enc.params->buffers())
    out.emplace_back(torchvision_name(name, enc.prefix), host_copy(buffer));
  return out;
}

std::map<std::string, std::string> export_metadata(const PretrainedEncoder& enc) {
  const models::ResNetConfig& cfg = enc.net->config();
  return {{"format", "rsd.encoder_weights"},
          {"model_id", enc.model_id},
          {"method", enc.method},
          {"encoder", enc.which},
          {"arch", str_cat("resnet", cfg.depth)},
          {"stem", models::resnet_stem_name(cfg.stem)},
          {"width", std::to_string(cfg.width)},
          {"in_channels", std::to_string(cfg.in_channels)},
          {"bands", nlohmann::json(enc.bands).dump()},
          {"statistics", enc.statistics.to_json()}};
}

void check_export_output(const std::string& checkpoint, const std::string& out, uint64_t estimated_bytes) {
  RSD_CHECK(!out.empty(), "export-weights: no output file given");
  check_output_file(out, "rsd export-weights OUT", estimated_bytes, checkpoint_inputs(checkpoint),
                    "the encoder's tensors in float32");
}

int64_t export_weights(const std::string& checkpoint, const std::string& out, const std::string& which,
                       const std::vector<std::string>& bands) {
  check_export_output(checkpoint, out, 0);  // before the checkpoint is read
  const PretrainedEncoder enc = load_pretrained_encoder(checkpoint, which, bands, Device::cpu());
  const auto state = torchvision_state(enc);
  uint64_t bytes = 65536;  // the header and metadata, generously
  for (const auto& [name, t] : state) bytes += static_cast<uint64_t>(t.numel()) * dtype_size(t.dtype()) + 128;
  check_export_output(checkpoint, out, bytes);
  SafetensorsWriteOptions options;
  options.require_finite = true;  // the encoder was checked when loaded; the file may never say otherwise
  write_safetensors(out, state, export_metadata(enc), options);
  return static_cast<int64_t>(state.size());
}

}  // namespace rsd::downstream
