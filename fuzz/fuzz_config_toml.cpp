// Pretraining configs (models/pretrain/config.h): the input is a TOML file, parsed through rsd's
// schema with parse_pretrain_config. Its lines starting "#set " are taken out of the file (left
// empty, so line numbers hold) and given as --set overrides, so the override parser is fuzzed
// with the file, with any bytes (a comment would have to be valid UTF-8). A config that parses must
// survive the round trip the header promises (parse_pretrain_config(to_toml(c)) == c) and turn
// into the JSON a checkpoint sidecar stores.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/error.h"
#include "fuzz/fuzz_target.h"
#include "models/pretrain/config.h"

namespace {

constexpr const char* kTarget = "config_toml";
constexpr const char* kOrigin = "fuzz-input.toml";

// Takes the "#set KEY=VALUE" lines out of `text` (their line left empty); returns the overrides.
std::vector<std::string> take_overrides(std::string& text) {
  std::vector<std::string> out;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    if (text.compare(begin, 5, "#set ") == 0) {
      out.push_back(text.substr(begin + 5, end - begin - 5));
      text.erase(begin, end - begin);
      end = begin;
    }
    begin = end + 1;
  }
  return out;
}

}  // namespace

RSD_FUZZ_TARGET(config_toml) {
  using namespace rsd;
  std::string text(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string> overrides = take_overrides(text);
  pretrain::PretrainConfig config;
  if (!fuzz::expect_clean(kTarget, {kOrigin},
                          [&] { config = pretrain::parse_pretrain_config(text, kOrigin, overrides); }))
    return;
  std::string toml;
  try {
    toml = pretrain::to_toml(config);
    const pretrain::PretrainConfig again = pretrain::parse_pretrain_config(toml, "round-trip.toml");
    fuzz::require(pretrain::to_toml(again) == toml, kTarget,
                  "parse_pretrain_config(to_toml(c)) differs from c:\n" + toml);
  } catch (const std::exception& e) {
    fuzz::finding(kTarget, str_cat("a parsed config does not survive to_toml and parsing again: ", e.what(), "\n", toml));
  }
  try {
    fuzz::require(nlohmann::json::parse(pretrain::to_json_text(config)).is_object(), kTarget,
                  "to_json_text did not give a JSON object");
  } catch (const std::exception& e) {
    fuzz::finding(kTarget, str_cat("a parsed config does not convert to JSON (checkpoint sidecars store it): ",
                                   e.what()));
  }
}
