// Errors: every failure in rsd is an rsd::Error whose message names what failed (the op, the call,
// the shapes or the file), so that a user reads the cause, never a crash.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace rsd {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A tensor that must be finite (a checkpoint's, an exported weight) holds Inf or NaN: callers that
// know why (a diverged run) add what to do.
class NonFiniteError : public Error {
 public:
  using Error::Error;
};

namespace detail {
inline void stream_all(std::ostringstream&) {}
template <typename First, typename... Rest>
void stream_all(std::ostringstream& os, const First& first, const Rest&... rest) {
  os << first;
  stream_all(os, rest...);
}
}  // namespace detail

// Concatenates its arguments with operator<<.
template <typename... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  detail::stream_all(os, args...);
  return os.str();
}

template <typename... Args>
[[noreturn]] void fail(const Args&... args) {
  throw Error(str_cat(args...));
}

}  // namespace rsd

// RSD_CHECK(cond, message parts...): throws rsd::Error with the message when cond is false.
#define RSD_CHECK(cond, ...)                 \
  do {                                       \
    if (!(cond)) ::rsd::fail(__VA_ARGS__);   \
  } while (0)
