// The JSON sidecar of a training checkpoint (step-N.json beside step-N.safetensors; its keys are in
// docs/checkpoint-format.md), read with every key checked: text that is not a JSON object, a
// missing key or a value of the wrong type is an rsd::Error naming the file and the key, never a
// stray JSON exception. Used by --resume and by the downstream commands that load an encoder.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace rsd::pretrain {

class RunSidecar {
 public:
  // path: the sidecar's file, for messages.
  RunSidecar(const std::string& text, std::string path);

  // The value at a dotted key ("config.model.arch"); an error names the key when it is missing.
  const nlohmann::json& at(const std::string& dotted_key) const;
  bool contains(const std::string& dotted_key) const;
  std::string string_at(const std::string& dotted_key) const;
  int64_t int_at(const std::string& dotted_key) const;
  double number_at(const std::string& dotted_key) const;
  bool bool_at(const std::string& dotted_key) const;
  // An object or array, as at() but checking the kind.
  const nlohmann::json& object_at(const std::string& dotted_key) const;
  const nlohmann::json& array_at(const std::string& dotted_key) const;

  const nlohmann::json& json() const { return json_; }
  const std::string& path() const { return path_; }

 private:
  const nlohmann::json* find(const std::string& dotted_key) const;
  [[noreturn]] void wrong(const std::string& dotted_key, const char* expected) const;

  nlohmann::json json_;
  std::string path_;
};

}  // namespace rsd::pretrain
