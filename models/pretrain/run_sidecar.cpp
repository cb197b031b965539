#include "models/pretrain/run_sidecar.h"

#include "engine/error.h"
#include "engine/json_limits.h"

namespace rsd::pretrain {

namespace {

constexpr const char* kDamaged = "; the sidecar is damaged or was not written by this rsd version: use another checkpoint";

}  // namespace

RunSidecar::RunSidecar(const std::string& text, std::string path) : path_(std::move(path)) {
  RSD_CHECK(json_depth(text.data(), text.size()) <= kMaxJsonDepth, path_, ": JSON nested deeper than ", kMaxJsonDepth,
            " levels", kDamaged);
  json_ = nlohmann::json::parse(text, nullptr, false);
  RSD_CHECK(!json_.is_discarded(), path_, ": not valid JSON", kDamaged);
  RSD_CHECK(json_.is_object(), path_, ": holds a JSON ", json_.type_name(), ", not an object", kDamaged);
}

const nlohmann::json* RunSidecar::find(const std::string& dotted_key) const {
  const nlohmann::json* node = &json_;
  size_t begin = 0;
  while (begin <= dotted_key.size()) {
    const size_t dot = dotted_key.find('.', begin);
    const std::string part = dotted_key.substr(begin, dot == std::string::npos ? std::string::npos : dot - begin);
    if (!node->is_object()) return nullptr;
    const auto it = node->find(part);
    if (it == node->end()) return nullptr;
    node = &*it;
    if (dot == std::string::npos) break;
    begin = dot + 1;
  }
  return node;
}

void RunSidecar::wrong(const std::string& dotted_key, const char* expected) const {
  const nlohmann::json* v = find(dotted_key);
  if (v == nullptr) fail(path_, ": has no \"", dotted_key, "\"", kDamaged);
  fail(path_, ": \"", dotted_key, "\" is ", v->dump().substr(0, 80), ", not ", expected, kDamaged);
}

bool RunSidecar::contains(const std::string& dotted_key) const { return find(dotted_key) != nullptr; }

const nlohmann::json& RunSidecar::at(const std::string& dotted_key) const {
  const nlohmann::json* v = find(dotted_key);
  if (v == nullptr) wrong(dotted_key, "present");
  return *v;
}

std::string RunSidecar::string_at(const std::string& dotted_key) const {
  const nlohmann::json& v = at(dotted_key);
  if (!v.is_string()) wrong(dotted_key, "a string");
  return v.get<std::string>();
}

int64_t RunSidecar::int_at(const std::string& dotted_key) const {
  const nlohmann::json& v = at(dotted_key);
  if (!v.is_number_integer()) wrong(dotted_key, "an integer");
  return v.get<int64_t>();
}

double RunSidecar::number_at(const std::string& dotted_key) const {
  const nlohmann::json& v = at(dotted_key);
  if (!v.is_number()) wrong(dotted_key, "a number");
  return v.get<double>();
}

bool RunSidecar::bool_at(const std::string& dotted_key) const {
  const nlohmann::json& v = at(dotted_key);
  if (!v.is_boolean()) wrong(dotted_key, "true or false");
  return v.get<bool>();
}

const nlohmann::json& RunSidecar::object_at(const std::string& dotted_key) const {
  const nlohmann::json& v = at(dotted_key);
  if (!v.is_object()) wrong(dotted_key, "an object");
  return v;
}

const nlohmann::json& RunSidecar::array_at(const std::string& dotted_key) const {
  const nlohmann::json& v = at(dotted_key);
  if (!v.is_array()) wrong(dotted_key, "an array");
  return v;
}

}  // namespace rsd::pretrain
