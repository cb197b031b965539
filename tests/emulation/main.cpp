// doctest's main for the emulated-kernel suite (tests/emulation).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
