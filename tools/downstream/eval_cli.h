// `rsd eval linear | knn | seg`: the probes' command line (tools/rsd.cpp calls add_eval_command).
#pragma once
#include <CLI/CLI.hpp>

namespace rsd::tools {

// Adds "eval" with subcommands "linear", "knn" and "seg"; their callbacks run the probes and throw
// rsd::Error on failure.
void add_eval_command(CLI::App& app);

}  // namespace rsd::tools
