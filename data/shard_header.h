// The JSON header of a shard and the layout object of dataset.json, to and from text. Used by
// shard.cpp and shard_dataset.cpp only; the field-by-field description is docs/shard-format.md.
#pragma once
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

// Throws rsd::Error (naming `what`) when `json_text` is not valid JSON; returns it compacted.
std::string canonical_json(const std::string& json_text, const std::string& what);

}  // namespace rsd::data
