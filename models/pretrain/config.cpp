#include "models/pretrain/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string_view>

#include "engine/error.h"
#include "models/pretrain/config_schema.h"
#include "models/pretrain/toml_prescan.h"

namespace rsd::pretrain {

namespace fs = std::filesystem;
using config_schema::Field;
using config_schema::FieldOf;
using config_schema::KeySpec;
using config_schema::Kind;
using config_schema::Value;

const char* pretrain_method_name(PretrainMethod method) {
  switch (method) {
    case PretrainMethod::byol: return "byol";
    case PretrainMethod::dual_contrastive: return "dual-contrastive";
    case PretrainMethod::simclr: return "simclr";
  }
  return "unknown";
}

namespace {

constexpr PretrainMethod kMethods[] = {PretrainMethod::byol, PretrainMethod::dual_contrastive,
                                       PretrainMethod::simclr};

// ---- Values: text, description, reading and writing fields ----

std::string join(const std::vector<std::string>& items, const char* separator = ", ") {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : separator) + s;
  return out;
}

// A TOML basic string: quotes, backslashes and control characters escaped.
std::string toml_quoted(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04X", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// The shortest text that reads back as the same double, always a TOML float ("256.0", "1e-06").
std::string float_text(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, result.ptr);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

std::string toml_text(const Value& v) {
  struct Text {
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(int64_t i) const { return std::to_string(i); }
    std::string operator()(double d) const { return float_text(d); }
    std::string operator()(const std::string& s) const { return toml_quoted(s); }
  };
  return std::visit(Text{}, v);
}

// "string \"fast\"", "float 256.5", "table": what a TOML node holds, for type errors.
std::string describe(const toml::node& node) {
  if (auto s = node.value_exact<std::string>()) return "string " + toml_quoted(*s);
  if (auto i = node.value_exact<int64_t>()) return "integer " + std::to_string(*i);
  if (auto d = node.value_exact<double>()) return "float " + float_text(*d);
  if (auto b = node.value_exact<bool>()) return std::string("boolean ") + (*b ? "true" : "false");
  if (node.is_table()) return "a table";
  if (node.is_array()) return "an array";
  std::ostringstream os;
  os << node.type();
  return os.str();
}

// The range an integer field's C++ type can store, and how errors name it. TOML integers are
// signed 64-bit, so an int64_t field takes any and a uint64_t field any non-negative one.
struct TypeLimits {
  double lo, hi;
  const char* note;
};
TypeLimits type_limits(const Field& field) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  if (std::holds_alternative<FieldOf<int>>(field)) {
    return {static_cast<double>(std::numeric_limits<int>::min()), static_cast<double>(std::numeric_limits<int>::max()),
            " (a 32-bit integer)"};
  }
  if (std::holds_alternative<FieldOf<uint64_t>>(field)) return {0.0, kInf, ""};
  return {-kInf, kInf, ""};
}

PretrainMethod method_named(const std::string& name) {
  for (const PretrainMethod m : kMethods) {
    if (name == pretrain_method_name(m)) return m;
  }
  fail("unknown method '", name, "'");
}

// Stores a checked value into the key's field.
void assign(const KeySpec& spec, PretrainConfig& config, const Value& value) {
  struct Assign {
    PretrainConfig& c;
    const Value& v;
    void operator()(FieldOf<bool> f) const { f(c) = std::get<bool>(v); }
    void operator()(FieldOf<int> f) const { f(c) = static_cast<int>(std::get<int64_t>(v)); }
    void operator()(FieldOf<int64_t> f) const { f(c) = std::get<int64_t>(v); }
    void operator()(FieldOf<uint64_t> f) const { f(c) = static_cast<uint64_t>(std::get<int64_t>(v)); }
    void operator()(FieldOf<double> f) const { f(c) = std::get<double>(v); }
    void operator()(FieldOf<std::string> f) const { f(c) = std::get<std::string>(v); }
    void operator()(FieldOf<PretrainMethod> f) const { f(c) = method_named(std::get<std::string>(v)); }
  };
  std::visit(Assign{config, value}, spec.field);
}

// The key's value in a config.
Value read(const KeySpec& spec, const PretrainConfig& config) {
  // The accessors take a mutable config; reading goes through a copy.
  PretrainConfig copy = config;
  struct Read {
    PretrainConfig& c;
    const KeySpec& spec;
    Value operator()(FieldOf<bool> f) const { return f(c); }
    Value operator()(FieldOf<int> f) const { return int64_t{f(c)}; }
    Value operator()(FieldOf<int64_t> f) const { return f(c); }
    Value operator()(FieldOf<uint64_t> f) const {
      RSD_CHECK(f(c) <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), "'", spec.key, "' = ", f(c),
                " does not fit a TOML integer (at most 2^63 - 1)");
      return static_cast<int64_t>(f(c));
    }
    Value operator()(FieldOf<double> f) const { return f(c); }
    Value operator()(FieldOf<std::string> f) const { return f(c); }
    Value operator()(FieldOf<PretrainMethod> f) const { return std::string(pretrain_method_name(f(c))); }
  };
  return std::visit(Read{copy, spec}, spec.field);
}

// ---- Checks ----

std::string kind_name(Kind kind) {
  switch (kind) {
    case Kind::boolean: return "a boolean (true or false)";
    case Kind::integer: return "an integer";
    case Kind::number: return "a number";
    case Kind::string: return "a string";
  }
  return "a value";
}

// "in [0, 1)", ">= 2", "> 0"; "" when unbounded.
std::string bounds_text(double lo, bool lo_open, double hi, bool hi_open) {
  const auto num = [](double v) {
    if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
    char buf[64];
    const auto result = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, result.ptr);
  };
  const bool has_lo = std::isfinite(lo), has_hi = std::isfinite(hi);
  if (has_lo && has_hi) {
    return str_cat("in ", lo_open ? "(" : "[", num(lo), ", ", num(hi), hi_open ? ")" : "]");
  }
  if (has_lo) return str_cat(lo_open ? "> " : ">= ", num(lo));
  if (has_hi) return str_cat(hi_open ? "< " : "<= ", num(hi));
  return "";
}

bool matches_choice(const std::string& value, const std::string& choice) {
  const std::string numbered = ":N";
  const size_t n = numbered.size();
  if (choice.size() > n && choice.compare(choice.size() - n, n, numbered) == 0) {
    const std::string prefix = choice.substr(0, choice.size() - 1);  // "cuda:"
    if (value.size() <= prefix.size() || value.compare(0, prefix.size(), prefix) != 0) return false;
    return std::all_of(value.begin() + static_cast<std::ptrdiff_t>(prefix.size()), value.end(),
                       [](char c) { return c >= '0' && c <= '9'; });
  }
  return value == choice;
}

// Throws "<where>: '<key>' must be ..., got ..." when the value is outside what the key allows.
void check_allowed(const KeySpec& spec, const Value& value, const std::string& where) {
  if (const auto* s = std::get_if<std::string>(&value)) {
    if (spec.required && s->empty()) fail(where, ": '", spec.key, "' must not be empty: ", spec.doc);
    if (spec.non_empty && s->empty()) fail(where, ": '", spec.key, "' must not be empty");
    if (spec.choices.empty()) return;
    for (const std::string& c : spec.choices) {
      if (matches_choice(*s, c)) return;
    }
    fail(where, ": '", spec.key, "' must be one of ", join(spec.choices), "; got ", toml_quoted(*s));
  }
  double v = 0.0;
  if (const auto* i = std::get_if<int64_t>(&value)) v = static_cast<double>(*i);
  else if (const auto* d = std::get_if<double>(&value)) v = *d;
  else return;
  RSD_CHECK(std::isfinite(v), where, ": '", spec.key, "' must be a finite number, got ", toml_text(value));
  const bool low = spec.min_open ? v <= spec.min : v < spec.min;
  const bool high = spec.max_open ? v >= spec.max : v > spec.max;
  if (low || high) {
    fail(where, ": '", spec.key, "' must be ", bounds_text(spec.min, spec.min_open, spec.max, spec.max_open),
         ", got ", toml_text(value));
  }
  const TypeLimits type = type_limits(spec.field);
  if (v < type.lo || v > type.hi) {
    fail(where, ": '", spec.key, "' must be ", bounds_text(type.lo, false, type.hi, false), type.note, ", got ",
         toml_text(value));
  }
}

// The node's value as the key's kind: integers are fine where a number is expected, a float
// where an integer is expected is not.
Value value_of(const KeySpec& spec, const toml::node& node, const std::string& where) {
  const Kind kind = spec.kind();
  std::optional<Value> v;
  switch (kind) {
    case Kind::boolean:
      if (auto b = node.value_exact<bool>()) v = *b;
      break;
    case Kind::integer:
      if (auto i = node.value_exact<int64_t>()) v = *i;
      break;
    case Kind::number:
      if (auto d = node.value_exact<double>()) v = *d;
      else if (auto i = node.value_exact<int64_t>()) v = static_cast<double>(*i);
      break;
    case Kind::string:
      if (auto s = node.value_exact<std::string>()) v = *s;
      break;
  }
  if (!v) fail(where, ": '", spec.key, "' must be ", kind_name(kind), ", got ", describe(node));
  check_allowed(spec, *v, where);
  return *v;
}

// ---- Unknown keys ----

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      diagonal = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitute});
    }
  }
  return row[b.size()];
}

// "; did you mean 'batch_size'?" when one candidate is close, else "".
std::string suggestion(const std::string& name, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = 3;
  for (const std::string& c : candidates) {
    const size_t d = edit_distance(name, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best.empty() ? "" : "; did you mean '" + best + "'?";
}

std::vector<std::string> names_in(const std::string& section) {
  std::vector<std::string> names;
  for (const KeySpec& k : config_schema::schema()) {
    if (k.section() == section) names.push_back(k.name());
  }
  return names;
}

bool is_section(const std::string& name) {
  const std::vector<std::string> all = config_schema::sections();
  return std::find(all.begin(), all.end(), name) != all.end();
}

std::string bracketed_sections() {
  std::vector<std::string> out;
  for (const std::string& s : config_schema::sections()) out.push_back("[" + s + "]");
  return join(out);
}

// The message for a key the schema lacks (dotted, or top-level).
[[noreturn]] void fail_unknown_key(const std::string& where, const std::string& key, bool is_table) {
  const size_t dot = key.find('.');
  if (dot != std::string::npos && is_section(key.substr(0, dot))) {
    const std::string section = key.substr(0, dot), name = key.substr(dot + 1);
    const std::vector<std::string> valid = names_in(section);
    fail(where, ": unknown key '", key, "'; valid keys in [", section, "]: ", join(valid), suggestion(name, valid));
  }
  const std::string head = key.substr(0, dot);
  std::vector<std::string> candidates = names_in("");
  for (const std::string& s : config_schema::sections()) candidates.push_back(s);
  if (is_table || dot != std::string::npos) {
    fail(where, ": unknown section [", head, "]; valid sections: ", bracketed_sections(),
         suggestion(head, config_schema::sections()));
  }
  fail(where, ": unknown key '", key, "'; valid top-level keys: ", join(names_in("")),
       "; sections: ", bracketed_sections(), suggestion(key, candidates));
}

std::string at_line(const std::string& origin, const toml::node& node) {
  const auto line = node.source().begin.line;
  return line > 0 ? str_cat(origin, ":", line) : origin;
}

// Every key of the parsed file is in the schema; every section is a table.
void check_structure(const toml::table& root, const std::string& origin) {
  for (auto&& [k, node] : root) {
    const std::string name(k.str());
    const std::string where = at_line(origin, node);
    if (is_section(name)) {
      RSD_CHECK(node.is_table(), where, ": '", name, "' must be a section ([", name, "]), got ", describe(node));
      for (auto&& [sub, sub_node] : *node.as_table()) {
        const std::string full = name + "." + std::string(sub.str());
        if (!config_schema::find_key(full)) fail_unknown_key(at_line(origin, sub_node), full, sub_node.is_table());
      }
    } else if (!config_schema::find_key(name)) {
      fail_unknown_key(where, name, node.is_table());
    }
  }
}

// ---- Overrides ----

struct Override {
  std::string text;   // "train.lr=0.1", for messages
  toml::table value;  // the value, as the key "v"
};

std::string trimmed(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

// "key=value" -> the key and its value: the text as a TOML value, else (a bare word, or any
// text for a string key that is not a TOML string) the text itself as a string.
std::pair<std::string, Override> parse_override(const std::string& text, const std::string& origin) {
  const size_t eq = text.find('=');
  const std::string where = str_cat(origin, ": override '", text, "'");
  RSD_CHECK(eq != std::string::npos, where, ": expected key=value (e.g. train.lr=0.1)");
  const std::string key = trimmed(text.substr(0, eq)), raw = trimmed(text.substr(eq + 1));
  RSD_CHECK(!key.empty(), where, ": the key before '=' is empty");
  const KeySpec* spec = config_schema::find_key(key);
  if (!spec) fail_unknown_key(where, key, false);
  Override o{text, {}};
  const std::string value_text = "v = " + raw;
  try {
    if (!find_unsafe_character(value_text)) o.value = toml::parse(value_text);
  } catch (const toml::parse_error&) {
    o.value = toml::table{};
  }
  const toml::node* parsed = o.value.get("v");
  const bool single_value = o.value.size() == 1 && parsed != nullptr;
  const bool string_wanted = spec->kind() == Kind::string;
  if (!single_value || (string_wanted && !parsed->is_string())) {
    // The text itself: it goes into to_toml and the JSON of checkpoint sidecars, which hold UTF-8
    // only (invalid bytes made to_json_text throw nlohmann's type_error: docs/fuzzing.md).
    RSD_CHECK(valid_utf8(raw), where, ": the value is not valid UTF-8");
    o.value = toml::table{{"v", raw}};
  }
  return {key, std::move(o)};
}

// The node a key takes its value from: its last override, else the file; nullptr when neither.
const toml::node* given_node(const KeySpec& spec, const toml::table& root,
                             const std::map<std::string, Override>& overrides) {
  if (auto it = overrides.find(spec.key); it != overrides.end()) return it->second.value.get("v");
  const std::string section = spec.section();
  if (section.empty()) return root.get(spec.key);
  const toml::table* t = root.get_as<toml::table>(section);
  return t ? t->get(spec.name()) : nullptr;
}

std::string where_given(const KeySpec& spec, const toml::node& node, const std::string& origin,
                        const std::map<std::string, Override>& overrides) {
  if (auto it = overrides.find(spec.key); it != overrides.end()) {
    return str_cat(origin, ": override '", it->second.text, "'");
  }
  return at_line(origin, node);
}

toml::table parse_toml(const std::string& text, const std::string& origin) {
  if (const std::optional<UnsafeCharacter> bad = find_unsafe_character(text)) {
    fail(origin, ":", bad->line, ":", bad->column, ": TOML syntax error: ", bad->what);
  }
  try {
    return toml::parse(text, std::string_view(origin));
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    fail(origin, ":", at.line, ":", at.column, ": TOML syntax error: ", e.description());
  }
}

// ---- Output helpers ----

nlohmann::ordered_json json_of(const Value& v) {
  return std::visit([](const auto& x) { return nlohmann::ordered_json(x); }, v);
}

std::string type_text(const KeySpec& spec) {
  std::string text;
  switch (spec.kind()) {
    case Kind::boolean: text = "boolean"; break;
    case Kind::integer: text = "integer"; break;
    case Kind::number: text = "number"; break;
    case Kind::string: text = "string"; break;
  }
  if (!spec.choices.empty()) return text + ": " + join(spec.choices, " | ");
  if (spec.kind() == Kind::integer || spec.kind() == Kind::number) {
    const std::string b = bounds_text(spec.min, spec.min_open, spec.max, spec.max_open);
    if (!b.empty()) text += " " + b;
  }
  return text;
}

std::string default_text(const KeySpec& spec) {
  if (spec.required) return "required";
  if (spec.by_method) {
    std::vector<std::string> parts;
    for (size_t i = 0; i < 3; ++i) {
      parts.push_back(str_cat(pretrain_method_name(kMethods[i]), " ", toml_text((*spec.by_method)[i])));
    }
    return "default by method: " + join(parts);
  }
  return "default " + toml_text(read(spec, PretrainConfig{}));
}

}  // namespace

PretrainConfig parse_pretrain_config(const std::string& toml_text_in, const std::string& origin,
                                     const std::vector<std::string>& overrides) {
  const toml::table root = parse_toml(toml_text_in, origin);
  check_structure(root, origin);
  std::map<std::string, Override> given_overrides;
  for (const std::string& text : overrides) {
    auto [key, o] = parse_override(text, origin);
    given_overrides[key] = std::move(o);
  }

  PretrainConfig config;
  config.source = origin;
  std::vector<const KeySpec*> defaulted;
  for (const KeySpec& spec : config_schema::schema()) {
    const toml::node* node = given_node(spec, root, given_overrides);
    if (node) {
      assign(spec, config, value_of(spec, *node, where_given(spec, *node, origin, given_overrides)));
    } else {
      RSD_CHECK(!spec.required, origin, ": ", spec.key, " is required: ", spec.doc);
      defaulted.push_back(&spec);
    }
  }
  // Method-dependent defaults, once the method is known.
  const auto method_index = static_cast<size_t>(std::find(std::begin(kMethods), std::end(kMethods), config.method) -
                                                std::begin(kMethods));
  for (const KeySpec* spec : defaulted) {
    if (spec->by_method) assign(*spec, config, (*spec->by_method)[method_index]);
  }
  return config;
}

PretrainConfig load_pretrain_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::error_code ec;
  RSD_CHECK(fs::is_regular_file(path, ec), "cannot read config ", path, ": ",
            fs::exists(path, ec) ? "not a file" : "no such file");
  std::ifstream in(path, std::ios::binary);
  RSD_CHECK(in.good(), "cannot read config ", path);
  std::ostringstream text;
  text << in.rdbuf();
  RSD_CHECK(!in.bad(), "cannot read config ", path);
  return parse_pretrain_config(text.str(), path, overrides);
}

void check_pretrain_paths(const PretrainConfig& config) {
  const std::string origin = config.source.empty() ? "config" : config.source;
  std::error_code ec;
  RSD_CHECK(fs::exists(config.data.path, ec), origin, ": data.path '", config.data.path,
            "' does not exist; expected a dataset folder (a layout rsd detects, or a CSV manifest) or a shard "
            "dataset folder with dataset.json (relative paths are relative to the working directory, ",
            fs::current_path(ec).string(), ")");
  if (!config.data.statistics.empty()) {
    RSD_CHECK(fs::is_regular_file(config.data.statistics, ec), origin, ": data.statistics '",
              config.data.statistics, "' ", fs::exists(config.data.statistics, ec) ? "is not a file" : "does not exist",
              "; expected a per-band statistics JSON file (as rsd pack writes)");
  }
}

std::string to_toml(const PretrainConfig& config) {
  std::string out = "# rsd pretrain configuration: every key (rsd pretrain --help describes them)\n";
  std::string section;
  for (const KeySpec& spec : config_schema::schema()) {
    if (spec.section() != section) {
      section = spec.section();
      out += "\n[" + section + "]\n";
    }
    out += "# " + spec.doc + "\n";
    out += spec.name() + " = " + toml_text(read(spec, config)) + "\n";
  }
  return out;
}

std::string to_json_text(const PretrainConfig& config) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const KeySpec& spec : config_schema::schema()) {
    const std::string section = spec.section();
    if (section.empty()) {
      j[spec.key] = json_of(read(spec, config));
    } else {
      j[section][spec.name()] = json_of(read(spec, config));
    }
  }
  j["source"] = config.source;
  return j.dump(2);
}

std::string pretrain_config_help() {
  std::string out =
      "Config keys (TOML; top-level keys first, then [sections]). Any key can be overridden with\n"
      "--set key=value (dotted: --set train.lr=0.1; a bare word is a string: --set data.path=/x/y).\n";
  std::string section;
  for (const KeySpec& spec : config_schema::schema()) {
    if (spec.section() != section) {
      section = spec.section();
      out += "\n[" + section + "]\n";
    }
    const std::string shown = section.empty() ? spec.key : spec.name();
    out += str_cat("  ", shown, "  (", type_text(spec), "; ", default_text(spec), ")\n      ", spec.doc, "\n");
  }
  return out;
}

}  // namespace rsd::pretrain
