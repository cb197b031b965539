// The subcommands of `rsd`, one file each in tools/commands/; tools/rsd.cpp adds them in the order
// `rsd --help` lists them. Each add_*_command adds its subcommand to the app with a callback that
// runs it once the command line is parsed. A callback that fails throws rsd::Error (main prints
// "rsd: error: ..." and exits with status 1), or CLI::RuntimeError(status) after printing its own
// message, for another exit status.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

namespace rsd::data {
struct PackResult;
}

namespace rsd::commands {

void add_pretrain_command(CLI::App& app);
void add_demo_command(CLI::App& app);
void add_devices_command(CLI::App& app);
void add_pack_command(CLI::App& app);
void add_info_command(CLI::App& app);
void add_make_synthetic_command(CLI::App& app);
void add_embed_command(CLI::App& app);
void add_export_weights_command(CLI::App& app);
void add_eval_command(CLI::App& app);

// The startup line of a command that computes: "compute: cpu (oneDNN CPU kernels, 2 threads (of 2
// usable cores))" or "compute: cuda:0" (what runs, and on how many threads).
void print_compute_line(const std::string& device);

// Shared by pack and make-synthetic (tools/commands/pack.cpp): the default of --threads (every
// hardware thread), and the summary printed after packing.
int default_threads();
void print_pack_result(const data::PackResult& r, bool skip_bad);

}  // namespace rsd::commands
