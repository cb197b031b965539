// The schema of PretrainConfig: one entry per TOML key, the only place a key is spelled. Each
// entry holds the key, the field it sets, the allowed values, the default when it depends on the
// method (other defaults are PretrainConfig's member initializers) and a one-line meaning.
// config.cpp drives parsing, overrides, to_toml, to_json_text and the help text from it.
#pragma once
#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "models/pretrain/config.h"

namespace rsd::pretrain::config_schema {

// A reference to one field of a PretrainConfig.
template <typename T>
using FieldOf = T& (*)(PretrainConfig&);
using Field = std::variant<FieldOf<bool>, FieldOf<int>, FieldOf<int64_t>, FieldOf<uint64_t>, FieldOf<double>,
                           FieldOf<std::string>, FieldOf<PretrainMethod>>;

// A key's value as TOML holds it (a method is its name).
using Value = std::variant<bool, int64_t, double, std::string>;

enum class Kind { boolean, integer, number, string };

struct KeySpec {
  std::string key;  // "train.lr"; no dot for a top-level key
  Field field;
  std::string doc;
  // Numbers: the allowed interval (infinite ends: unbounded).
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_open = false, max_open = false;
  // Strings: the allowed values (empty: any). A choice "x:N" accepts "x:" and a decimal integer.
  std::vector<std::string> choices;
  bool required = false;   // must be given, not empty
  bool non_empty = false;  // may be left out, but not set to ""
  std::optional<std::array<Value, 3>> by_method;  // default for byol, dual-contrastive, simclr

  std::string section() const;  // "train"; "" for a top-level key
  std::string name() const;     // "lr"
  Kind kind() const;

  KeySpec& at_least(double lo);
  KeySpec& above(double lo);
  KeySpec& within(double lo, double hi);            // [lo, hi]
  KeySpec& within_half_open(double lo, double hi);  // [lo, hi)
  KeySpec& one_of(std::vector<std::string> values);
  KeySpec& needed();
  KeySpec& not_empty();
  KeySpec& defaults_by_method(Value byol, Value dual_contrastive, Value simclr);
};

// Every key, top-level keys first, then the sections in order.
const std::vector<KeySpec>& schema();
// The entry of a dotted key, or nullptr.
const KeySpec* find_key(const std::string& key);
// The section names in order ("data", "model", ...).
std::vector<std::string> sections();

}  // namespace rsd::pretrain::config_schema
