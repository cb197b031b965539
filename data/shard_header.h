// The JSON header of a shard and the layout object of dataset.json, to and from text. Used by
// shard.cpp and shard_dataset.cpp only; the field-by-field description is docs/shard-format.md.
#pragma once
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "data/shard.h"

namespace rsd::data {

struct ShardHeader {
  ShardLayout layout;
  std::string statistics_json = "null";  // JSON text, stored as a JSON value
  int64_t record_bytes = 0;
  std::vector<RecordMeta> records;
};

std::string encode_shard_header(const ShardHeader& header);
// Throws rsd::Error naming `file` when the text is not a valid header of this version.
ShardHeader decode_shard_header(const char* text, size_t length, const std::string& file);

// The "layout" object alone (JSON text), as dataset.json holds it.
std::string encode_layout(const ShardLayout& layout);
ShardLayout decode_layout(const std::string& json_text, const std::string& file);

// The integer `key` of the JSON object `j`, within [lo, hi]; otherwise an rsd::Error
// "<prefix><file>: "<key>" is 1e+30, not an integer in [lo, hi]" (nlohmann's get<int64_t>()
// would convert a float beyond the type with undefined behaviour, and wrap a wider integer).
int64_t json_integer(const nlohmann::json& j, const char* key, int64_t lo, int64_t hi, const char* prefix,
                     const std::string& file);

// Throws rsd::Error (naming `what`) when `json_text` is not valid JSON; returns it compacted.
std::string canonical_json(const std::string& json_text, const std::string& what);

}  // namespace rsd::data
