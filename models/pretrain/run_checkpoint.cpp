#include "models/pretrain/run_checkpoint.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/safetensors.h"
#include "models/pretrain/run_sidecar.h"
#include "models/torchvision_layout.h"

namespace rsd::pretrain {

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

// "a, b, c and 5 more" of at most `shown` names.
std::string some_names(const std::vector<std::string>& names, size_t shown = 4) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < shown; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > shown) out += str_cat(" and ", names.size() - shown, " more");
  return out;
}

std::string shape_text(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

// The module a model tensor belongs to: its name through "encoder.", "projector." or
// "predictor." ("online.encoder."), or the name itself (a lone tensor such as the temperature).
std::string module_of(const std::string& name) {
  size_t best = std::string::npos;
  for (const char* part : {"encoder.", "projector.", "predictor."}) {
    const size_t at = name.find(part);
    if (at != std::string::npos && (best == std::string::npos || at < best)) best = at + std::string(part).size();
  }
  return best == std::string::npos ? name : name.substr(0, best);
}

// The run's config against the checkpoint's, key by key: "model.arch: resnet34 in the checkpoint, resnet18 here".
void compare_key(const RunSidecar& sidecar, const std::string& key, const nlohmann::json& ours,
                 std::vector<std::string>& differences) {
  if (!sidecar.contains(key)) {
    differences.push_back(str_cat(key, ": not in the checkpoint, ", ours.dump(), " here"));
    return;
  }
  const nlohmann::json& theirs = sidecar.at(key);
  if (theirs != ours) differences.push_back(str_cat(key, ": ", theirs.dump(), " in the checkpoint, ", ours.dump(), " here"));
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

void check_resume_config(const LoadedCheckpoint& ckpt, const PretrainConfig& config, const PretrainData& data) {
  const RunSidecar sidecar(ckpt.sidecar_json, checkpoint_sidecar_path(ckpt.path));
  const nlohmann::json ours = nlohmann::json::parse(to_json_text(config));
  std::vector<std::string> differences;
  compare_key(sidecar, "method", ours.at("method"), differences);
  for (const char* key : {"arch", "stem", "width", "projector_hidden", "projector_out", "predictor_hidden"})
    compare_key(sidecar, str_cat("config.model.", key), ours.at("model").at(key), differences);
  compare_key(sidecar, "config.train.optimizer", ours.at("train").at("optimizer"), differences);
  compare_key(sidecar, "config.contrastive.learnable_temperature", ours.at("contrastive").at("learnable_temperature"),
              differences);
  compare_key(sidecar, "data.view_channels", nlohmann::json(data.view_channels), differences);
  if (differences.empty()) return;
  std::string list;
  for (const std::string& d : differences) list += "\n  " + d;
  fail(ckpt.path, ": cannot resume: the checkpoint was trained with another model or method than this config "
       "describes:", list, "\nResume with the config the run was started with (it is in the checkpoint's sidecar ",
       checkpoint_sidecar_path(ckpt.path), " and in the run folder's config.toml), or start a new run from its "
       "weights with --init (and --out elsewhere)");
}

RunCounters restore_run_checkpoint(const LoadedCheckpoint& ckpt, models::SslMethod& method, Optimizer& optimizer) {
  const SafetensorsFile& file = ckpt.file;
  const auto method_it = file.metadata().find("method");
  RSD_CHECK(method_it != file.metadata().end() && method_it->second == method.name(), ckpt.path,
            ": a checkpoint of method '", method_it == file.metadata().end() ? "?" : method_it->second,
            "', but this run trains '", method.name(), "'");
  // Every tensor the run has, and nothing else: checked in full before anything is restored.
  std::vector<std::pair<std::string, Tensor>> wanted = method_tensors(method);
  for (const auto& [name, state] : optimizer.state()) wanted.emplace_back(kOptimizerPrefix + name, state);
  std::vector<std::string> missing, mismatched, unexpected;
  std::set<std::string> known;
  for (const auto& [name, t] : wanted) {
    known.insert(name);
    if (!file.contains(name)) {
      missing.push_back(name);
    } else if (file.shape(name) != t.shape()) {
      mismatched.push_back(str_cat(name, " ", shape_text(file.shape(name)), " vs ", shape_text(t.shape())));
    }
  }
  for (const std::string& name : file.names())
    if (!known.count(name)) unexpected.push_back(name);
  if (!missing.empty() || !mismatched.empty() || !unexpected.empty()) {
    std::string what;
    if (!mismatched.empty()) what += str_cat("\n  ", mismatched.size(), " of other shapes (checkpoint vs run): ", some_names(mismatched));
    if (!missing.empty()) what += str_cat("\n  ", missing.size(), " missing: ", some_names(missing));
    if (!unexpected.empty()) what += str_cat("\n  ", unexpected.size(), " this run does not have: ", some_names(unexpected));
    fail(ckpt.path, ": cannot resume: its tensors do not fit this run's model and optimizer (another architecture, ",
         "width, stem, number of bands or optimizer):", what,
         "\nResume with the config the run was started with, or start a new run from its weights with --init");
  }
  for (auto& [name, t] : wanted) file.read_into(name, t);
  const RunSidecar sidecar(ckpt.sidecar_json, checkpoint_sidecar_path(ckpt.path));
  RunCounters counters;
  counters.step = ckpt.step;
  const int64_t optimizer_steps = sidecar.int_at("counters.optimizer_steps");
  counters.skipped_total = sidecar.int_at("counters.skipped_total");
  const int64_t bad = sidecar.int_at("counters.bad_in_a_row");
  RSD_CHECK(optimizer_steps >= 0 && counters.skipped_total >= 0 && bad >= 0 && bad <= counters.step &&
                optimizer_steps <= counters.step,
            sidecar.path(), ": counters ", sidecar.at("counters").dump(), " do not fit step ", counters.step,
            "; the sidecar is damaged: use another checkpoint");
  optimizer.set_step_count(optimizer_steps);
  counters.bad_in_a_row = static_cast<int>(bad);
  return counters;
}

std::string InitReport::summary() const {
  std::string s = str_cat("loaded ", loaded, " tensors");
  if (!missing.empty()) s += str_cat("; ", missing.size(), " not in the file kept their initialization (", some_names(missing), ")");
  if (!mismatched.empty()) s += str_cat("; ", mismatched.size(), " of another shape (", some_names(mismatched), ")");
  if (!unexpected.empty()) s += str_cat("; ", unexpected.size(), " in the file match none of the model's (", some_names(unexpected), ")");
  return s;
}

InitReport load_initial_weights(const std::string& path, models::SslMethod& method, bool partial) {
  const SafetensorsFile file = SafetensorsFile::open(path);
  std::vector<std::pair<std::string, Tensor>> targets;
  for (const Parameter* p : method.params().parameters()) targets.emplace_back(p->name, p->value);
  for (const auto& [name, buffer] : method.params().buffers()) targets.emplace_back(name, buffer);
  RSD_CHECK(!targets.empty(), path, ": the model has no tensors to initialize");
  InitReport report;
  std::set<std::string> used;
  std::map<std::string, std::pair<int, int>> modules;  // module -> (found in the file, missing)
  std::vector<std::pair<Tensor, std::pair<std::string, Tensor>>> loads;  // (value, (name, destination))
  for (auto& [name, dst] : targets) {
    const std::string src = init_source_name(file, name);
    auto& counts = modules[module_of(name)];
    if (src.empty()) {
      report.missing.push_back(name);
      ++counts.second;
      continue;
    }
    ++counts.first;
    used.insert(src);
    Tensor t = file.read(src);
    if (t.ndim() == 4 && dst.ndim() == 4 && t.shape() != dst.shape()) t = models::conv_weight_from_torchvision(t);
    if (t.shape() != dst.shape()) {
      report.mismatched.push_back(str_cat(src, " ", shape_text(file.shape(src)), " for ", name, " ", shape_text(dst.shape())));
      continue;
    }
    loads.push_back({t, {name, dst}});
  }
  for (const auto& [module, counts] : modules) report.partial_module = report.partial_module || (counts.first > 0 && counts.second > 0);
  // Not architecture: the optimizer state and BYOL's target network of a checkpoint (the target is
  // rebuilt from the online network), torchvision's ImageNet classifier and BN step counters.
  for (const std::string& name : file.names()) {
    const bool batches_tracked = name.size() > 20 && name.compare(name.size() - 20, 20, ".num_batches_tracked") == 0;
    if (used.count(name) || batches_tracked || name.rfind("optimizer.", 0) == 0 || name.rfind("target.", 0) == 0 ||
        name.rfind("fc.", 0) == 0)
      continue;
    report.unexpected.push_back(name);
  }
  RSD_CHECK(!loads.empty(), path, ": no tensor matches this model's parameter names and shapes (such as '",
            targets.front().first, "', or the same without the part up to 'encoder.'): ", report.summary());
  if (!partial && !report.architecture_matches()) {
    std::string partial_note = report.partial_module ? "; some module is in the file only in part (" : "";
    if (report.partial_module) {
      std::vector<std::string> parts;
      for (const auto& [module, counts] : modules)
        if (counts.first > 0 && counts.second > 0) parts.push_back(str_cat(module, " ", counts.first, " of ", counts.first + counts.second));
      partial_note += some_names(parts) + ")";
    }
    fail(path, ": does not fit this model (another architecture, width, stem or number of bands?): ", report.summary(),
         partial_note, ". Nothing was loaded. Use --init-partial to load only the tensors whose names and shapes match");
  }
  for (auto& [value, target] : loads) target.second.copy_from(value);
  report.loaded = static_cast<int64_t>(loads.size());
  method.weights_loaded();
  return report;
}

}  // namespace rsd::pretrain
