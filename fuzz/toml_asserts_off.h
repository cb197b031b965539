// Force-included into every user of toml++ in the libFuzzer build (fuzz/CMakeLists.txt). toml++'s
// internal debug assertions (TOML_ASSERT, and TOML_ASSERT_ASSUME without NDEBUG) check the
// parser's own state, and some fail on malformed input that the parser then rejects cleanly (a
// '[' followed by a NUL, a date followed by "Tc": docs/fuzzing.md). rsd's builds define NDEBUG,
// where with gcc they compile to nothing; the fuzz build has no NDEBUG (so that rsd's own asserts
// run), and compiles toml++'s out the same way, so the fuzzer sees what rsd runs.
#pragma once
#define TOML_ASSERT(expr) static_cast<void>(0)
