// `rsd info`: what a shard, a packed dataset, a dataset folder or a GeoTIFF holds (data/inspect.h);
// --verify checks every checksum and exits with status 2 when a record is corrupt.
#include <cstdio>
#include <memory>
#include <string>

#include "data/inspect.h"
#include "tools/commands/commands.h"

namespace rsd::commands {

void add_info_command(CLI::App& app) {
  struct Args {
    std::string path;
    bool verify = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "info", "Summarize a shard (.rsd), a packed dataset (dataset.json or its folder), a dataset folder or a GeoTIFF");
  cmd->add_option("PATH", a->path, "What to describe")->required();
  cmd->add_flag("--verify", a->verify,
                "Check every record's CRC32C; exit with status 2 naming the shard and records if any is corrupt");
  cmd->callback([a] {
    data::InfoOptions options;
    options.verify = a->verify;
    const data::InfoResult r = data::describe_path(a->path, options);
    std::fputs(r.text.c_str(), stdout);
    if (r.ok()) return;
    std::fprintf(stderr, "rsd info: %zu corrupted record(s) in %s (see above)\n", r.corrupted.size(), a->path.c_str());
    throw CLI::RuntimeError(2);
  });
}

}  // namespace rsd::commands
