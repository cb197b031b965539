// dataset.json, the index of a packed dataset (data/shard_dataset.h): a valid dataset of 5 samples
// in 3 shards (fuzz/fixtures.h) is written once at start-up; each input replaces its dataset.json,
// and the folder is opened as `rsd pretrain` and `rsd info --verify` open it and read record by
// record (fuzz/shard_checks.h).
#include <nlohmann/json.hpp>

#include "fuzz/fixtures.h"
#include "fuzz/shard_checks.h"

namespace {

constexpr const char* kTarget = "dataset_json";

// What an error may name: the folder (the index, a shard in it) or a shard file the index names.
std::vector<std::string> names_in(const uint8_t* data, size_t size, const std::string& folder) {
  std::vector<std::string> names{folder};
  try {
    const nlohmann::json j = nlohmann::json::parse(data, data + size);
    for (const nlohmann::json& s : j.at("shards")) names.push_back(s.at("file").get<std::string>());
  } catch (const std::exception&) {
  }
  return names;
}

}  // namespace

RSD_FUZZ_TARGET(dataset_json) {
  using namespace rsd;
  static const std::string folder = [] {
    const std::string dir = fuzz::scratch_dir(kTarget) + "/dataset";
    fuzz::write_fixture_dataset(dir, 5);
    return dir;
  }();
  fuzz::write_file(folder + "/" + data::kDatasetIndexName, data, size);
  const std::vector<std::string> names = names_in(data, size, folder);
  std::shared_ptr<const data::ShardDataset> ds;
  if (!fuzz::expect_clean(kTarget, names, [&] { ds = std::make_shared<const data::ShardDataset>(folder); })) return;
  int64_t total = 0;
  for (int64_t s = 0; s < ds->shard_count(); ++s) {
    const data::ShardReader& r = ds->shard(s);
    fuzz::require(r.layout() == ds->layout() && ds->shard_start(s) == total, kTarget,
                  str_cat("shard ", r.path(), " opened with another layout or start than its index says"));
    total += r.size();
  }
  fuzz::require(total == ds->size(), kTarget, str_cat("the index says ", ds->size(), " records, the shards ", total));
  fuzz::expect_clean(kTarget, names, [&] { fuzz::read_everything(kTarget, names, ds); });
}
