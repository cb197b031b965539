// `rsd make-synthetic`: shards of random data for the loader benchmark (data/synthetic_shards.h).
#include <cstdio>
#include <memory>

#include "data/synthetic_shards.h"
#include "tools/commands/commands.h"

namespace rsd::commands {

void add_make_synthetic_command(CLI::App& app) {
  auto config = std::make_shared<data::SyntheticShardsConfig>();
  config->threads = default_threads();
  CLI::App* cmd = app.add_subcommand("make-synthetic",
                                     "Write shards of SYNTHETIC random data (labelled so) for the loader benchmark");
  cmd->add_option("OUT", config->out, "The output folder")->required();
  cmd->add_option("--samples", config->samples, "Number of samples")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--bands", config->bands, "Bands: the first 13 are S2, then VV, VH")
      ->check(CLI::Range(1, 15))
      ->capture_default_str();
  cmd->add_option("--size", config->size, "Height and width")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--records-per-shard", config->records_per_shard, "Records per shard (default: about 1 GiB a shard)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", config->seed, "Seed of the random values")->capture_default_str();
  cmd->add_option("--threads", config->threads, "Threads making samples")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->callback([config] {
    std::printf("rsd make-synthetic: %lld SYNTHETIC samples of %d bands, %dx%d (random values, not imagery)\n",
                static_cast<long long>(config->samples), config->bands, config->size, config->size);
    print_pack_result(data::make_synthetic_shards(*config), false);
  });
}

}  // namespace rsd::commands
