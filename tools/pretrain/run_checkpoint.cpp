#include "tools/pretrain/run_checkpoint.h"

#include <nlohmann/json.hpp>

#include "engine/safetensors.h"

namespace rsd::tools {

using nlohmann::json;

namespace {

const std::string kOptimizerPrefix = "optimizer.";

// Every tensor of the method a checkpoint holds, by name.
std::vector<std::pair<std::string, Tensor>> method_tensors(const models::SslMethod& method) {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const Parameter* p : method.params().parameters()) out.emplace_back(p->name, p->value);
  for (const auto& [name, buffer] : method.params().buffers()) out.emplace_back(name, buffer);
  for (auto& entry : method.extra_state()) out.push_back(entry);
  return out;
}

void restore_tensor(const SafetensorsFile& file, const std::string& name, Tensor dst) {
  RSD_CHECK(file.contains(name), file.path(), ": no tensor '", name, "': the checkpoint was written for another ",
            "model or method (compare its .json sidecar's config with this run's)");
  file.read_into(name, dst);
}

// Ours (K, R, S, C) from torchvision's (K, C, R, S) layout, on the host.
Tensor from_torchvision_conv(const Tensor& w) {
  const int64_t k = w.dim(0), c = w.dim(1), r = w.dim(2), s = w.dim(3);
  const std::vector<double> v = w.to_host_doubles();
  std::vector<double> out(v.size());
  for (int64_t a = 0; a < k; ++a)
    for (int64_t ci = 0; ci < c; ++ci)
      for (int64_t y = 0; y < r; ++y)
        for (int64_t x = 0; x < s; ++x) out[((a * r + y) * s + x) * c + ci] = v[((a * c + ci) * r + y) * s + x];
  return Tensor::from_vector(out, {k, r, s, c}, DType::f32);
}

// The file's tensor for one of ours: its exact name, or the part after "encoder.".
std::string init_source_name(const SafetensorsFile& file, const std::string& ours) {
  if (file.contains(ours)) return ours;
  const size_t at = ours.find("encoder.");
  if (at != std::string::npos && file.contains(ours.substr(at + 8))) return ours.substr(at + 8);
  return "";
}

}  // namespace

CheckpointContent make_run_checkpoint(const models::SslMethod& method, const Optimizer& optimizer,
                                      const RunCounters& counters, const PretrainConfig& config,
                                      const PretrainData& data) {
  CheckpointContent c;
  c.step = counters.step;
  c.tensors = method_tensors(method);
  for (const auto& [name, state] : optimizer.state()) c.tensors.emplace_back(kOptimizerPrefix + name, state);
  c.metadata = {{"format", "rsd-checkpoint-1"}, {"method", method.name()}, {"optimizer", optimizer.name()}};
  const int64_t batches = counters.step * config.train.grad_accum;
  json sidecar = {
      {"step", counters.step},
      {"method", method.name()},
      {"config", json::parse(to_json_text(config))},
      {"statistics", json::parse(data.statistics.to_json())},
      {"statistics_origin", data.statistics_origin},
      {"data", {{"description", data.description}, {"view_channels", data.view_channels}, {"view_bands", data.view_bands},
                {"patch", data.patch}}},
      {"rng", {{"seed", config.seed}, {"batches_consumed", batches},
               {"views", "Philox4x32-10 keyed by (seed, epoch, sample index): a pure function, nothing else to save"}}},
      {"counters", {{"optimizer_steps", optimizer.step_count()}, {"bad_in_a_row", counters.bad_in_a_row},
                    {"skipped_total", counters.skipped_total}}},
  };
  c.sidecar_json = sidecar.dump(2) + "\n";
  return c;
}

RunCounters restore_run_checkpoint(const LoadedCheckpoint& ckpt, models::SslMethod& method, Optimizer& optimizer) {
  const SafetensorsFile& file = ckpt.file;
  const auto method_it = file.metadata().find("method");
  RSD_CHECK(method_it != file.metadata().end() && method_it->second == method.name(), ckpt.path,
            ": a checkpoint of method '", method_it == file.metadata().end() ? "?" : method_it->second,
            "', but this run trains '", method.name(), "'");
  for (auto& [name, t] : method_tensors(method)) restore_tensor(file, name, t);
  for (const auto& [name, state] : optimizer.state()) restore_tensor(file, kOptimizerPrefix + name, state);
  const json sidecar = json::parse(ckpt.sidecar_json);
  RunCounters counters;
  counters.step = ckpt.step;
  const json& k = sidecar.at("counters");
  optimizer.set_step_count(k.at("optimizer_steps").get<int64_t>());
  counters.bad_in_a_row = k.at("bad_in_a_row").get<int>();
  counters.skipped_total = k.at("skipped_total").get<int64_t>();
  return counters;
}

int64_t load_initial_weights(const std::string& path, models::SslMethod& method) {
  const SafetensorsFile file = SafetensorsFile::open(path);
  int64_t loaded = 0;
  std::vector<std::pair<std::string, Tensor>> targets;
  for (const Parameter* p : method.params().parameters()) targets.emplace_back(p->name, p->value);
  for (const auto& [name, buffer] : method.params().buffers()) targets.emplace_back(name, buffer);
  for (auto& [name, dst] : targets) {
    const std::string src = init_source_name(file, name);
    if (src.empty()) continue;
    Tensor t = file.read(src);
    if (t.ndim() == 4 && dst.ndim() == 4 && t.shape() != dst.shape()) t = from_torchvision_conv(t);
    RSD_CHECK(t.shape() == dst.shape(), path, ": tensor '", src, "' is ", t.describe(), " but '", name, "' is ",
              dst.describe(), " (a different architecture or number of bands?)");
    dst.copy_from(t);
    ++loaded;
  }
  RSD_CHECK(loaded > 0, path, ": no tensor matches this model's parameter names (such as '", targets.front().first,
            "', or the same without the part up to 'encoder.')");
  method.weights_loaded();
  return loaded;
}

}  // namespace rsd::tools
