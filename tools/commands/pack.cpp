// `rsd pack`: a dataset into checksummed shards (data/pack.h).
#include "data/pack.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <thread>

#include "tools/commands/commands.h"

namespace rsd::commands {

int default_threads() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

void print_pack_result(const data::PackResult& r, bool skip_bad) {
  std::printf("packed %lld samples into %zu shard(s), %lld bytes per record\nindex: %s\n",
              static_cast<long long>(r.packed), r.shards.size(), static_cast<long long>(r.record_bytes),
              r.index_path.c_str());
  if (skip_bad) {
    std::printf("skipped %zu bad sample(s); report: %s\n", r.skipped.size(), r.skipped_report.c_str());
    for (size_t i = 0; i < r.skipped.size() && i < 5; ++i)
      std::printf("  %s: %s\n", r.skipped[i].id.c_str(), r.skipped[i].error.c_str());
  }
}

void add_pack_command(CLI::App& app) {
  auto pack = std::make_shared<data::PackCommand>();
  pack->threads = default_threads();
  CLI::App* cmd = app.add_subcommand(
      "pack",
      "Convert a dataset (SEN12MS, SSL4EO-S12, BigEarthNet-MM, TerraMesh, CSV, EuroSAT-MS, Sen1Floods11, "
      "DFC2020, folder) into checksummed, memory-mappable shards and dataset.json in OUT (needs GDAL)");
  cmd->add_option("SRC", pack->src, "The dataset folder (or CSV manifest)")->required();
  cmd->add_option("OUT", pack->out, "The output folder (made; must not hold a dataset already)")->required();
  cmd->add_option("--layout", pack->layout,
                  "sen12ms, ssl4eo-s12, bigearthnet-mm, terramesh, csv, eurosat-ms, sen1floods11, dfc2020 or "
                  "folder (default: detected)");
  cmd->add_option("--s2-level", pack->s2_level, "L1C or L2A where the source holds both (default: L1C if present)")
      ->check(CLI::IsMember({"L1C", "L2A", "l1c", "l2a"}));
  cmd->add_option("--records-per-shard", pack->records_per_shard, "Records per shard (default: about 1 GiB a shard)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--skip-bad", pack->skip_bad,
                "Skip samples that cannot be read, count them and list them in OUT/skipped.json (default: the "
                "first bad sample stops the pack and nothing is left in OUT)");
  cmd->add_option("--threads", pack->threads, "Threads reading samples")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->callback([pack] { print_pack_result(data::pack_dataset(*pack), pack->skip_bad); });
}

}  // namespace rsd::commands
