#include "models/pretrain/toml_prescan.h"

#include <string_view>

namespace rsd::pretrain {

std::optional<UnsafeCharacter> find_unsafe_character(const std::string& text) {
  enum class State { normal, comment, basic, literal, multi_basic, multi_literal };
  State state = State::normal;
  size_t line = 1, line_start = 0;
  // Inside a bare key or value (a number, date, boolean or garbage), which toml++ scans to its end
  // testing every character: a quote there does not start a string (as in "lr = 6'é").
  bool bare = false;
  const auto at = [&](size_t k) { return k < text.size() ? text[k] : '\0'; };
  const auto non_ascii = [&](size_t k) { return k < text.size() && static_cast<unsigned char>(text[k]) >= 0x80; };
  const auto unsafe = [&](size_t k, const char* what) {
    size_t column = 1;
    for (size_t j = line_start; j < k; ++j) column += (static_cast<unsigned char>(text[j]) & 0xC0) != 0x80 ? 1 : 0;
    return UnsafeCharacter{line, column, what};
  };
  // A run of quotes closing a multi-line string: the delimiter and up to two quotes of content.
  const auto closing_run = [&](size_t k, char quote) {
    size_t n = 3;
    while (n < 5 && at(k + n) == quote) ++n;
    return n;
  };
  for (size_t i = text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0; i < text.size(); ++i) {  // after a BOM
    const char c = text[i];
    if (c == '\n') {
      ++line;
      line_start = i + 1;
    }
    switch (state) {
      case State::normal:
        if (non_ascii(i)) {
          return unsafe(i, "a non-ASCII character outside a string or comment (TOML keys and bare values are ASCII: "
                           "quote the key, or write the value as a \"string\")");
        }
        if (c == '#') {
          state = State::comment;
          bare = false;
        } else if ((c == '"' || c == '\'') && !bare) {
          const bool multi = at(i + 1) == c && at(i + 2) == c;
          state = c == '"' ? (multi ? State::multi_basic : State::basic) : (multi ? State::multi_literal : State::literal);
          if (multi) i += 2;
        } else {
          bare = std::string_view(" \t\r\n,[]{}=.").find(c) == std::string_view::npos;
        }
        break;
      case State::comment:
        if (c == '\n') state = State::normal;
        break;
      case State::basic:
        if (c == '\\' && at(i + 1) != '\n') {
          ++i;
        } else if (c == '"' || c == '\n') {
          state = State::normal;
        }
        break;
      case State::literal:
        if (c == '\'' || c == '\n') state = State::normal;
        break;
      case State::multi_basic:
        if (c == '\\') {
          const char* what = "a non-ASCII character right after a backslash in a multi-line string (the TOML "
                             "library cannot read it safely: write it as \\uXXXX)";
          size_t k = i + 1;
          while (at(k) == ' ' || at(k) == '\t' || at(k) == '\r' || at(k) == '\n') {
            if (text[k] == '\n') {
              ++line;
              line_start = k + 1;
            }
            ++k;
          }
          if (non_ascii(k)) return unsafe(k, what);
          i = k > i + 1 ? k - 1 : k;  // after the skipped whitespace, or past the escaped character
        } else if (c == '"' && at(i + 1) == '"' && at(i + 2) == '"') {
          i += closing_run(i, '"') - 1;
          state = State::normal;
        }
        break;
      case State::multi_literal:
        if (c == '\'' && at(i + 1) == '\'' && at(i + 2) == '\'') {
          i += closing_run(i, '\'') - 1;
          state = State::normal;
        }
        break;
    }
  }
  return std::nullopt;
}

bool valid_utf8(const std::string& s) {
  const auto byte = [&](size_t i) { return i < s.size() ? static_cast<unsigned char>(s[i]) : 0u; };
  for (size_t i = 0; i < s.size();) {
    const unsigned c = byte(i);
    size_t n = 0;       // continuation bytes
    unsigned lo = 0x80, hi = 0xBF;  // the range of the first continuation byte
    if (c < 0x80) {
      n = 0;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    for (size_t k = 1; k <= n; ++k) {
      const unsigned b = byte(i + k);
      if (b < (k == 1 ? lo : 0x80u) || b > (k == 1 ? hi : 0xBFu)) return false;
    }
    i += n + 1;
  }
  return true;
}

}  // namespace rsd::pretrain
