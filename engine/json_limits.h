// A limit on the nesting of JSON that rsd reads from files. nlohmann::json parses any depth
// without recursion, but copies, compares and prints values by recursion, so a file of a few
// hundred KB of '[' crashed the reader with a stack overflow (a fuzz finding, docs/fuzzing.md).
// Every file rsd writes nests a few levels deep; readers refuse text nested deeper than this:
//
//   RSD_CHECK(json_depth(text.data(), text.size()) <= kMaxJsonDepth, path, ": JSON nested deeper than ...");
#pragma once
#include <cstddef>

namespace rsd {

inline constexpr size_t kMaxJsonDepth = 256;

// The deepest nesting of arrays and objects in JSON text, strings skipped. For text that is not
// JSON it is some count; the parser reports the syntax error.
inline size_t json_depth(const char* text, size_t size) {
  size_t depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < size; ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

}  // namespace rsd
