// Checks of TOML text before toml++ reads it (models/pretrain/config.cpp: the config file and the
// values of --set).
//
// toml++ 3.3 (Debian 12's) reaches __builtin_unreachable (undefined behaviour; a fuzz finding,
// docs/fuzzing.md) when it tests a code point in U+00A1..U+0499, U+2C4E..U+3047 or U+FB36..U+FEFE
// for whitespace, which it does for a non-ASCII character outside a string or comment, and in a
// multi-line basic string for one right after a backslash or after a line-ending backslash's
// whitespace. Outside strings and comments TOML allows ASCII only, so there such a character is a
// syntax error anyway. find_unsafe_character finds the first of them (line and column from 1, in
// characters) before toml++ reads the text.
#pragma once
#include <cstddef>
#include <optional>
#include <string>

namespace rsd::pretrain {

struct UnsafeCharacter {
  size_t line = 0, column = 0;  // from 1; the column counts characters
  const char* what = "";        // what the character is and what to write instead
};
std::optional<UnsafeCharacter> find_unsafe_character(const std::string& text);

// Whether `s` is well-formed UTF-8 (RFC 3629: no overlong forms, surrogates or code points above
// U+10FFFF), as TOML and JSON text must be.
bool valid_utf8(const std::string& s);

}  // namespace rsd::pretrain
