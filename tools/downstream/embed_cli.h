// The `rsd embed` and `rsd export-weights` subcommands (tools/downstream/embed_chips.h,
// embed_dense.h, export_weights.h). Their callbacks throw rsd::Error on failure.
#pragma once
#include <CLI/CLI.hpp>

namespace rsd::tools {

void add_embed_command(CLI::App& app);
void add_export_weights_command(CLI::App& app);

}  // namespace rsd::tools
