// rsd_fuzz_seeds OUT [REPO]: writes the seed inputs of every fuzz target into OUT/<target>/: valid
// files written by rsd itself (npy, safetensors, checkpoints, shards, dataset.json, configs from
// REPO/configs) and a few hand-made edge cases. tools/fuzz.sh --seed merges them into
// fuzz/corpus/ (docs/fuzzing.md).
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "data/shard.h"
#include "engine/npy.h"
#include "engine/safetensors.h"
#include "fuzz/fixtures.h"
#include "fuzz/fuzz_target.h"
#include "models/pretrain/config.h"

namespace {

namespace fs = std::filesystem;
using namespace rsd;

fs::path g_out;

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void seed(const char* target, const std::string& name, const std::string& bytes) {
  const fs::path dir = g_out / target;
  fs::create_directories(dir);
  fuzz::write_file((dir / ("seed-" + name)).string(), bytes.data(), bytes.size());
}

void npy_seeds(const fs::path& tmp) {
  const std::vector<std::pair<std::string, Tensor>> tensors = {
      {"f32-2x3", Tensor::from_vector({1, -2, 3.5, 0, 1e-3, 7}, {2, 3}, DType::f32)},
      {"f64-scalar", Tensor::from_vector({3.25}, {}, DType::f64)},
      {"f16-4", Tensor::from_vector({1, 2, -3, 0.5}, {4}, DType::f16)},
      {"i32-2x2x2", Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 2}, DType::i32)},
      {"u8-5", Tensor::from_vector({0, 1, 2, 254, 255}, {5}, DType::u8)},
      {"f32-0x3", Tensor::zeros({0, 3}, DType::f32)},
  };
  for (const auto& [name, t] : tensors) {
    const fs::path p = tmp / (name + ".npy");
    write_npy(p.string(), t);
    seed("npy", name + ".npy", read_bytes(p));
  }
  // Version 2.0 (a 4-byte header length), Fortran order, big-endian: read or refused by name.
  const auto v2 = [](const std::string& dict) {
    std::string h = "\x93NUMPY";
    h += '\x02';
    h += '\x00';
    std::string body = dict;
    while ((h.size() + 4 + body.size() + 1) % 64 != 0) body += ' ';
    body += '\n';
    const uint32_t n = static_cast<uint32_t>(body.size());
    h.append(reinterpret_cast<const char*>(&n), 4);
    return h + body;
  };
  seed("npy", "v2-f32-2.npy", v2("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }") + std::string(8, '\x01'));
  seed("npy", "fortran.npy", v2("{'descr': '<f8', 'fortran_order': True, 'shape': (1, 1), }") + std::string(8, '\0'));
  seed("npy", "big-endian.npy", v2("{\"descr\": \">i4\", \"fortran_order\": False, \"shape\": (1,)}") + "\0\0\0\1");
}

void safetensors_seeds(const fs::path& tmp) {
  fuzz::TinyCheckpoint ckpt((tmp / "ckpt3").string(), 3);
  seed("safetensors", "checkpoint-step3.safetensors", read_bytes(ckpt.weights));
  const fs::path dtypes = tmp / "dtypes.safetensors";
  write_safetensors(dtypes.string(),
                    {{"a.f32", Tensor::from_vector({1, 2, 3}, {3}, DType::f32)},
                     {"b.f64", Tensor::from_vector({-1}, {1, 1}, DType::f64)},
                     {"c.bf16", Tensor::from_vector({1, 2, 3, 4}, {2, 2}, DType::bf16)},
                     {"d.f16", Tensor::from_vector({0.5}, {1}, DType::f16)},
                     {"e.i32", Tensor::from_vector({7, 8}, {2}, DType::i32)},
                     {"f.u8", Tensor::from_vector({255}, {1}, DType::u8)},
                     {"g.empty", Tensor::zeros({0, 4}, DType::f32)},
                     {"h.scalar", Tensor::from_vector({2}, {}, DType::f32)}},
                    {{"step", "3"}, {"format", kCheckpointFormat}, {"note", "dtypes"}});
  seed("safetensors", "dtypes.safetensors", read_bytes(dtypes));
  const fs::path none = tmp / "none.safetensors";
  write_safetensors(none.string(), {}, {{"step", "3"}});
  seed("safetensors", "no-tensors.safetensors", read_bytes(none));
  // A dtype rsd lacks (I64) beside one it reads.
  std::string header = R"({"x":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},)"
                       R"("y":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"__metadata__":{"step":"3"}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  const uint64_t n = header.size();
  seed("safetensors", "i64.safetensors",
       std::string(reinterpret_cast<const char*>(&n), 8) + header + std::string(12, '\x01'));
}

void checkpoint_seeds(const fs::path& tmp) {
  fuzz::TinyCheckpoint ckpt((tmp / "ckpt7").string(), 7);
  seed("checkpoint_sidecar", "sidecar-step7.json", read_bytes(ckpt.sidecar));
}

void shard_seeds(const fs::path& tmp) {
  const data::DatasetWriter::Result result = fuzz::write_fixture_dataset((tmp / "dataset").string(), 5);
  seed("dataset_json", "dataset.json", read_bytes(result.index_path));
  std::vector<std::string> shards = result.shards;
  // A shard with a label map, and an S2-only one.
  const auto single = [&](const std::string& name, const data::Sample& s) {
    const std::string path = (tmp / name).string();
    data::ShardWriter w(path, data::layout_of(s, "fuzz-single"));
    w.set_statistics(fuzz::fixture_statistics_json());
    w.append(s);
    w.finish();
    shards.push_back(path);
  };
  single("label-map.rsd", fuzz::fixture_sample("with/label", 4, true));
  data::Sample s2_only = fuzz::fixture_sample("s2/only", 5);
  s2_only.s1.reset();
  single("s2-only.rsd", s2_only);
  for (const std::string& path : shards) {
    const std::string bytes = read_bytes(path);
    const std::string name = fs::path(path).filename().string();
    seed("shard_file", name, bytes);
    uint64_t length = 0;
    std::memcpy(&length, bytes.data() + 16, 8);
    seed("shard_header", name + ".json", bytes.substr(static_cast<size_t>(data::kShardPreambleBytes), length));
  }
}

void csv_seeds() {
  seed("csv_manifest", "header.csv",
       "# s1_bands: VV VH\n# s2_bands: B02 B03 B04 B08\ns1,s2,label\npairs/a_s1.tif,pairs/a_s2.tif,Forest\n"
       "pairs/b_s1.tif,pairs/b_s2.tif,River\n,pairs/c_s2.tif,Forest\npairs/d_s1.tif,,\n");
  seed("csv_manifest", "no-header.csv", "# s2_bands: B04\nx/1.tif,x/1_s2.tif,maps/1.tif\n\"a,b.tif\",\"q\"\"uote.tif\"\n");
  seed("csv_manifest", "reordered.csv", "# s2_bands: B02,B03\nLABEL,S2\nSea,s2/x.tiff\n  Land , s2/y.tif \r\n");
}

void config_seeds(const fs::path& repo) {
  for (const fs::path& dir : {repo / "configs", repo / "configs" / "experiments"}) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.path().extension() == ".toml") {
        seed("config_toml", entry.path().filename().string(), read_bytes(entry.path()));
      }
    }
  }
  pretrain::PretrainConfig c;
  c.data.path = "data/samples/terramind-s1s2";
  seed("config_toml", "every-key.toml", pretrain::to_toml(c));
  seed("config_toml", "overrides.toml",
       "#set train.lr=0.05\n#set method=simclr\n#set data.path=/x/y z\n#set device=cuda:1\n"
       "[data]\npath = \"d\"\n[train]\nbatch_size = 8\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s OUT [REPO]   writes seed inputs into OUT/<target>/\n", argv[0]);
    return 2;
  }
  g_out = argv[1];
  const fs::path repo = argc >= 3 ? fs::path(argv[2]) : fs::current_path();
  const fs::path tmp = fuzz::scratch_dir("seeds");
  try {
    npy_seeds(tmp);
    safetensors_seeds(tmp);
    checkpoint_seeds(tmp);
    shard_seeds(tmp);
    csv_seeds();
    config_seeds(repo);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rsd_fuzz_seeds: %s\n", e.what());
    return 1;
  }
  std::printf("seeds written to %s\n", g_out.c_str());
  return 0;
}
