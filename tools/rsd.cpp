// The rsd command line: main and the table of subcommands, one file each in tools/commands/.
// pretrain (self-supervised pretraining from a TOML config), demo (a small supervised CNN on a
// synthetic toy task), devices (what this build and machine can run on), pack (a dataset into
// shards), info (what a shard, dataset, folder or GeoTIFF holds; --verify checks every checksum),
// make-synthetic (shards of random data for benchmarks), embed, export-weights and eval (downstream
// use of a checkpoint's encoders: embeddings, weights for PyTorch, linear / k-NN / segmentation
// probes). `rsd --help` and `rsd SUB --help` list options.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <new>

#include "engine/error.h"
#include "engine/threads.h"
#include "tools/commands/commands.h"
#include "engine/shutdown.h"

namespace {

// In the order `rsd --help` lists them.
constexpr void (*kCommands[])(CLI::App&) = {
    rsd::commands::add_pretrain_command, rsd::commands::add_demo_command,
    rsd::commands::add_devices_command,  rsd::commands::add_pack_command,
    rsd::commands::add_info_command,     rsd::commands::add_make_synthetic_command,
    rsd::commands::add_embed_command,    rsd::commands::add_export_weights_command,
    rsd::commands::add_eval_command,
};

}  // namespace

int main(int argc, char** argv) {
  rsd::ShutdownAtExit shutdown_at_exit;  // ends the device state before static destruction (engine/shutdown.h)
  CLI::App app{"rsd: self-supervised pretraining of Sentinel-1/Sentinel-2 encoders (C++/CUDA, no framework)"};
  app.set_version_flag("--version", "rsd 0.1.0");
  app.require_subcommand(1);
  // One budget for every CPU backend (oneDNN, OpenBLAS); given before or after the subcommand.
  app.fallthrough();
  app.add_option_function<int>(
         "--threads", [](int n) { rsd::set_thread_budget(n); },
         "CPU threads for compute (oneDNN, OpenBLAS), shared so they never oversubscribe (default: the cores this "
         "process may use)")
      ->envname("RSD_THREADS");
  for (const auto add : kCommands) add(app);

  // Each subcommand runs from its callback, inside parse().
  try {
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return app.exit(e);
    }
    return 0;
  } catch (const rsd::Error& e) {
    std::fprintf(stderr, "rsd: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "rsd: error: out of memory; lower train.batch_size, the view size or the number of workers\n");
    return 1;
  } catch (const std::exception& e) {
    // Every failure rsd foresees is an rsd::Error naming its file or cause; anything else is a bug
    // in rsd, reported as one rather than left to std::terminate.
    std::fprintf(stderr, "rsd: internal error (a bug in rsd; please report it with the command line): %s\n", e.what());
    return 1;
  }
}
