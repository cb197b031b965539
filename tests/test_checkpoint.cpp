// Checkpoints: atomic files, the safetensors format (round trip of every dtype bit-exactly, the
// reference Python client reading our files and writing files we read, every kind of corruption
// named in the error), write failures that leave nothing behind, and the checkpoint directory
// (keeping the last K, skipping incomplete checkpoints, resuming, mismatched steps).
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "engine/allocator.h"
#include "engine/atomic_file.h"
#include "engine/checkpoint.h"
#include "engine/error.h"
#include "engine/safetensors.h"
#include "tests/support/harness.h"
#include "tests/support/subprocess.h"

namespace fs = std::filesystem;
using namespace rsd;
using rsd::test::error_of;
using rsd::test::run_python_client;

namespace {

struct ScratchDir {
  fs::path path;
  ScratchDir() {
    static int counter = 0;
    const std::string name = "rsd-checkpoint-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    path = fs::temp_directory_path() / name;
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read ", path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

// The names of the files in `dir`, sorted.
std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

bool any_temp_file(const fs::path& dir) {
  for (const std::string& name : files_in(dir)) {
    if (name.find(".tmp.") != std::string::npos) return true;
  }
  return false;
}

// The message of the rsd::Error `f` throws; FAILs when it throws nothing.

// Element i of a test tensor: the same formula as pattern_value in tests/python/check_safetensors.py.
// The float values are multiples of 1/8 below 8 in magnitude: exact in every float dtype.
double pattern_value(DType t, int64_t i) {
  if (t == DType::i32) return static_cast<double>(i * 7919 - 100000);
  if (t == DType::u8) return static_cast<double>((i * 13) % 256);
  return static_cast<double>((i * 37) % 101 - 50) / 8.0;
}

Tensor pattern_tensor(DType t, const Shape& shape) {
  std::vector<double> values(static_cast<size_t>(shape_numel(shape)));
  for (size_t i = 0; i < values.size(); ++i) values[i] = pattern_value(t, static_cast<int64_t>(i));
  return Tensor::from_vector(values, shape, t);
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         (a.nbytes() == 0 || std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0);
}

// A 16-bit float tensor holding arbitrary bit patterns: NaN payloads, infinities, subnormals, -0.
Tensor bit_pattern_tensor(DType t, int64_t n) {
  Tensor out = Tensor::empty({n}, t);
  uint16_t* bits = static_cast<uint16_t*>(out.raw());
  for (int64_t i = 0; i < n; ++i) bits[i] = static_cast<uint16_t>(i * 2654435761u >> 7);
  bits[0] = 0x8000;
  if (n > 3) {
    bits[1] = 0x7fc1;
    bits[2] = 0xffff;
    bits[3] = 0x0001;
  }
  return out;
}

// A file in the safetensors layout from a header text and data bytes, built without our writer.
std::string raw_safetensors(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

// `bytes` with its 8-byte header length replaced by n.
std::string with_header_length(std::string bytes, uint64_t n) {
  std::memcpy(bytes.data(), &n, 8);
  return bytes;
}

// One F32 tensor of 2 elements, "a", whose header entry is `entry`, plus `data`.
std::string one_tensor_file(const std::string& entry, const std::string& data = std::string(8, '\1')) {
  return raw_safetensors("{\"a\":" + entry + "}", data);
}

CheckpointContent content_for_step(int64_t step) {
  CheckpointContent c;
  c.step = step;
  c.tensors = {{"online.encoder.conv1.weight", pattern_tensor(DType::f32, {4, 3, 3, 2})},
               {"optimizer.online.encoder.conv1.weight.momentum",
                Tensor::full({4, 3, 3, 2}, static_cast<double>(step), DType::f32)}};
  c.metadata = {{"method", "byol"}};
  c.sidecar_json = R"({"config": {"lr": 0.2}, "rng": {"seed": 18446744073709551615}})";
  return c;
}

}  // namespace

TEST_SUITE("checkpoint") {
  TEST_CASE("atomic files: chunks become visible only on commit; an abandoned writer leaves nothing") {
    ScratchDir dir;
    const std::string path = dir / "out.bin";
    {
      AtomicFileWriter w(path);
      w.write("abc");
      w.write("defg", 4);
      CHECK(fs::exists(w.temp_path()));
      CHECK_FALSE(fs::exists(path));
      CHECK(w.bytes_written() == 7);
      w.commit();
      CHECK_THROWS_WITH_AS(w.write("x"), doctest::Contains("already committed"), Error);
    }
    CHECK(read_bytes(path) == "abcdefg");
    {
      AtomicFileWriter w(path);
      w.write("partial");
    }
    CHECK(read_bytes(path) == "abcdefg");
    CHECK_FALSE(any_temp_file(dir.path));
    write_file_atomically(path, "replaced\n");
    CHECK(read_bytes(path) == "replaced\n");
    CHECK(files_in(dir.path) == std::vector<std::string>{"out.bin"});
  }

  TEST_CASE("safetensors round trip: every dtype bit-exact, metadata, order, scalars and empty tensors") {
    ScratchDir dir;
    const std::string path = dir / "all.safetensors";
    const std::vector<std::pair<std::string, Tensor>> tensors = {
        {"z.f32", pattern_tensor(DType::f32, {2, 3, 5})},   {"a.f64", pattern_tensor(DType::f64, {7})},
        {"m.bf16", bit_pattern_tensor(DType::bf16, 257)},   {"b.f16", bit_pattern_tensor(DType::f16, 65)},
        {"y.i32", pattern_tensor(DType::i32, {3, 1, 4})},   {"c.u8", pattern_tensor(DType::u8, {5, 3})},
        {"scalar", pattern_tensor(DType::f32, {})},         {"empty", Tensor::empty({0, 4}, DType::f32)},
        {"after.empty", pattern_tensor(DType::u8, {3})}};
    const std::map<std::string, std::string> metadata = {{"format", "rsd-checkpoint-1"}, {"step", "42"},
                                                         {"unicode", "sch\xc3\xb6n"}, {"empty", ""}};
    write_safetensors(path, tensors, metadata);
    CHECK(files_in(dir.path) == std::vector<std::string>{"all.safetensors"});
    // 8 + N is a multiple of 8: the data starts aligned.
    const std::string bytes = read_bytes(path);
    uint64_t header_bytes = 0;
    std::memcpy(&header_bytes, bytes.data(), 8);
    CHECK(header_bytes % 8 == 0);

    const SafetensorsFile f = SafetensorsFile::open(path);
    CHECK(f.path() == path);
    CHECK(f.metadata() == metadata);
    std::vector<std::string> expected_names;
    for (const auto& [name, t] : tensors) expected_names.push_back(name);
    CHECK(f.names() == expected_names);
    for (const auto& [name, t] : tensors) {
      CAPTURE(name);
      REQUIRE(f.contains(name));
      CHECK(f.dtype(name) == t.dtype());
      CHECK(f.shape(name) == t.shape());
      CHECK(same_bytes(f.read(name), t));
    }
    CHECK_FALSE(f.contains("missing"));
    CHECK_THROWS_WITH_AS(f.read("missing"), doctest::Contains("no tensor named \"missing\""), Error);
  }

  TEST_CASE("safetensors read_into converts dtypes and checks shapes") {
    ScratchDir dir;
    const std::string path = dir / "w.safetensors";
    write_safetensors(path, {{"w", pattern_tensor(DType::f32, {3, 4})}, {"n", pattern_tensor(DType::i32, {2})}});
    const SafetensorsFile f = SafetensorsFile::open(path);
    Tensor same = Tensor::zeros({3, 4}, DType::f32);
    f.read_into("w", same);
    CHECK(same_bytes(same, pattern_tensor(DType::f32, {3, 4})));
    Tensor wider = Tensor::zeros({3, 4}, DType::f64);
    f.read_into("w", wider);
    CHECK(wider.to_host_doubles() == pattern_tensor(DType::f64, {3, 4}).to_host_doubles());
    Tensor as_float = Tensor::zeros({2}, DType::f32);
    f.read_into("n", as_float);
    CHECK(as_float.to_host_doubles() == std::vector<double>{-100000.0, -92081.0});
    Tensor wrong = Tensor::zeros({4, 3}, DType::f32);
    const std::string message = error_of([&] { f.read_into("w", wrong); });
    CHECK(message.find(path) != std::string::npos);
    CHECK(message.find("F32 [3,4]") != std::string::npos);
    CHECK(message.find("f32[4,3]@cpu") != std::string::npos);
  }

  TEST_CASE("safetensors: the Python client reads what we write") {
    ScratchDir dir;
    const std::string path = dir / "ours.safetensors";
    struct Spec {
      std::string name;
      DType dtype;
      Shape shape;
    };
    const std::vector<Spec> specs = {{"online.encoder.conv1.weight", DType::f32, {8, 7, 7, 3}},
                                     {"online.encoder.bn1.running_mean", DType::f64, {8}},
                                     {"half", DType::f16, {3, 5}},
                                     {"brain", DType::bf16, {2, 3, 4}},
                                     {"labels", DType::i32, {9}},
                                     {"mask", DType::u8, {2, 2, 3}},
                                     {"scalar", DType::f32, {}},
                                     {"empty", DType::f16, {0}}};
    std::vector<std::pair<std::string, Tensor>> tensors;
    nlohmann::json spec = {{"tensors", nlohmann::json::array()},
                           {"metadata", {{"format", "rsd-checkpoint-1"}, {"method", "byol"}, {"step", "7"}}}};
    const char* stored[] = {"F32", "F64", "BF16", "F16", "I32", "U8"};
    for (const Spec& s : specs) {
      tensors.emplace_back(s.name, pattern_tensor(s.dtype, s.shape));
      spec["tensors"].push_back({{"name", s.name}, {"dtype", stored[static_cast<int>(s.dtype)]}, {"shape", s.shape}});
    }
    write_safetensors(path, tensors, spec["metadata"].get<std::map<std::string, std::string>>());
    write_bytes(dir / "spec.json", spec.dump());

    const std::string output = run_python_client("check_safetensors.py", "read '" + path + "' '" + (dir / "spec.json") + "'");
    CHECK(output.find("8 tensors and 3 metadata entries as expected") != std::string::npos);
  }

  TEST_CASE("safetensors: we read what the Python client writes; its I64 tensor is refused by name") {
    ScratchDir dir;
    const std::string path = dir / "theirs.safetensors";
    run_python_client("check_safetensors.py", "write '" + path + "'");

    const SafetensorsFile f = SafetensorsFile::open(path);
    CHECK(f.metadata() == std::map<std::string, std::string>{{"format", "pt"}, {"written_by", "safetensors.torch"}});
    const std::vector<std::tuple<std::string, DType, Shape>> expected = {
        {"conv.weight", DType::f32, {4, 3, 3, 2}}, {"bn.running_var", DType::f64, {5}}, {"half", DType::f16, {2, 3}},
        {"brain", DType::bf16, {3, 1, 2}},         {"labels", DType::i32, {7}},        {"mask", DType::u8, {2, 2, 2}},
        {"scalar", DType::f32, {}},                {"empty", DType::f32, {0, 4}}};
    CHECK(f.names().size() == expected.size() + 1);
    for (const auto& [name, dtype, shape] : expected) {
      CAPTURE(name);
      REQUIRE(f.contains(name));
      CHECK(f.dtype(name) == dtype);
      CHECK(f.shape(name) == shape);
      CHECK(same_bytes(f.read(name), pattern_tensor(dtype, shape)));
    }
    CHECK(f.stored_dtype("bn.num_batches_tracked") == "I64");
    const std::string message = error_of([&] { f.read("bn.num_batches_tracked"); });
    CHECK(message.find(path) != std::string::npos);
    CHECK(message.find("\"bn.num_batches_tracked\"") != std::string::npos);
    CHECK(message.find("I64") != std::string::npos);
  }

  TEST_CASE("safetensors: every corruption is an error naming the file and the problem") {
    ScratchDir dir;
    const std::string good_path = dir / "good.safetensors";
    write_safetensors(good_path,
                      {{"first", pattern_tensor(DType::f32, {10, 10})}, {"second", pattern_tensor(DType::u8, {3})}},
                      {{"step", "1"}});
    const std::string good = read_bytes(good_path);
    uint64_t header_bytes = 0;
    std::memcpy(&header_bytes, good.data(), 8);
    const size_t data_start = 8 + header_bytes;
    REQUIRE(good.size() == data_start + 403);

    int case_number = 0;
    auto check_corrupt = [&](const std::string& bytes, const std::string& expected) {
      const std::string path = dir / ("corrupt-" + std::to_string(case_number++) + ".safetensors");
      write_bytes(path, bytes);
      const std::string message = error_of([&] { SafetensorsFile::open(path); });
      CAPTURE(message);
      CHECK(message.find(path) != std::string::npos);
      CHECK(message.find(expected) != std::string::npos);
    };

    SUBCASE("truncated at several points") {
      check_corrupt("", "shorter than the 8-byte header length");
      check_corrupt(good.substr(0, 5), "shorter than the 8-byte header length");
      check_corrupt(good.substr(0, 8), "truncated: header says");
      check_corrupt(good.substr(0, 8 + header_bytes / 2), "truncated: header says");
      check_corrupt(good.substr(0, data_start), "truncated: header says 403 bytes of data, file has 0");
      check_corrupt(good.substr(0, data_start + 1), "truncated: header says 403 bytes of data, file has 1");
      check_corrupt(good.substr(0, data_start + 400), "truncated: header says 403 bytes of data, file has 400");
      check_corrupt(good.substr(0, good.size() - 1), "the file is incomplete, use an earlier checkpoint");
    }
    SUBCASE("header length flipped, too short, or covering the data") {
      std::string flipped = good;
      std::reverse(flipped.begin(), flipped.begin() + 8);
      check_corrupt(flipped, "is beyond the limit");
      check_corrupt(with_header_length(good, header_bytes - 8), "header is not valid JSON");
      check_corrupt(with_header_length(good, header_bytes + 16), "header is not valid JSON");
      check_corrupt(with_header_length(good, good.size()), "truncated: header says");
    }
    SUBCASE("header not JSON, not an object") {
      check_corrupt(raw_safetensors("{\"a\": [1, 2", ""), "header is not valid JSON");
      check_corrupt(raw_safetensors("\xff\xfe garbage", ""), "header is not valid JSON");
      check_corrupt(raw_safetensors("[1, 2, 3]", ""), "header is a JSON array, not an object");
    }
    SUBCASE("entries without dtype, shape or data_offsets; bad shapes and dtypes") {
      check_corrupt(one_tensor_file("{\"shape\":[2],\"data_offsets\":[0,8]}"), "tensor \"a\" has no \"dtype\"");
      check_corrupt(one_tensor_file("{\"dtype\":\"F32\",\"data_offsets\":[0,8]}"), "tensor \"a\" has no \"shape\"");
      check_corrupt(one_tensor_file("{\"dtype\":\"F32\",\"shape\":[2]}"), "tensor \"a\" has no \"data_offsets\"");
      check_corrupt(one_tensor_file("[1]"), "tensor \"a\" is described by array, not an object");
      check_corrupt(one_tensor_file("{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}"), "is negative (-2)");
      check_corrupt(one_tensor_file("{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}"),
                    "is not an integer (2.5)");
      check_corrupt(one_tensor_file("{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}"), "not a number");
      check_corrupt(one_tensor_file("{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}"),
                    "tensor \"a\" has the unknown dtype \"Q4\"");
      check_corrupt(one_tensor_file("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}"), "is not a pair");
    }
    SUBCASE("offsets that do not match the size, out of range, overlapping, gaps, trailing bytes") {
      check_corrupt(one_tensor_file("{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}"),
                    "span 8 bytes, but F32 [3] needs 12");
      check_corrupt(one_tensor_file("{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}"),
                    "needs more than 2^64");
      check_corrupt(one_tensor_file("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}"),
                    "end before they begin");
      check_corrupt(one_tensor_file("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}"),
                    "truncated: header says 16 bytes of data, file has 8");
      const std::string two = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                              "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[";
      check_corrupt(raw_safetensors(two + "4,8]}}", std::string(8, '\0')), "overlap");
      check_corrupt(raw_safetensors(two + "12,16]}}", std::string(16, '\0')), "data bytes [8, 12) belong to no tensor");
      check_corrupt(one_tensor_file("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", std::string(12, '\0')),
                    "trailing bytes: 4 bytes after the last tensor's data");
      check_corrupt(good + "x", "trailing bytes: 1 bytes");
    }
    SUBCASE("metadata that is not an object of strings") {
      check_corrupt(raw_safetensors("{\"__metadata__\":{\"step\":12}}", ""), "__metadata__ value of \"step\" is 12");
      check_corrupt(raw_safetensors("{\"__metadata__\":[\"x\"]}", ""), "__metadata__ is array");
    }
    SUBCASE("a missing file or a directory") {
      CHECK(error_of([&] { SafetensorsFile::open(dir / "missing.safetensors"); }).find("missing.safetensors") !=
            std::string::npos);
      CHECK(error_of([&] { SafetensorsFile::open(dir.path.string()); }).find("not a regular file") !=
            std::string::npos);
    }
    // The valid file stays readable after all of this.
    CHECK(SafetensorsFile::open(good_path).names() == std::vector<std::string>{"first", "second"});
  }

  TEST_CASE("safetensors: a file changed after open fails its reads by name") {
    ScratchDir dir;
    const std::string path = dir / "w.safetensors";
    write_safetensors(path, {{"w", pattern_tensor(DType::f32, {64})}});
    const SafetensorsFile f = SafetensorsFile::open(path);
    fs::resize_file(path, 100);
    const std::string message = error_of([&] { f.read("w"); });
    CHECK(message.find(path) != std::string::npos);
    CHECK(message.find("the file ended while reading tensor \"w\"") != std::string::npos);
  }

  TEST_CASE("safetensors: write failures leave the old file and no temporary file") {
    ScratchDir dir;
    const std::vector<std::pair<std::string, Tensor>> tensors = {{"w", pattern_tensor(DType::f32, {4})}};

    SUBCASE("the path is a directory") {
      fs::create_directories(dir.path / "taken.safetensors");
      const std::string message = error_of([&] { write_safetensors(dir / "taken.safetensors", tensors); });
      CHECK(message.find("taken.safetensors") != std::string::npos);
      CHECK(fs::is_directory(dir.path / "taken.safetensors"));
    }
    SUBCASE("the directory does not exist") {
      const std::string message = error_of([&] { write_safetensors(dir / "no/such/dir/w.safetensors", tensors); });
      CHECK(message.find("cannot write") != std::string::npos);
      CHECK(message.find("no/such/dir/w.safetensors") != std::string::npos);
    }
    SUBCASE("the directory is not writable") {
      if (::geteuid() == 0) {
        MESSAGE("running as root, which writes anywhere: the permission case is not checked");
      } else {
        fs::create_directories(dir.path / "locked");
        fs::permissions(dir.path / "locked", fs::perms::owner_read | fs::perms::owner_exec);
        const std::string message = error_of([&] { write_safetensors(dir / "locked/w.safetensors", tensors); });
        CHECK(message.find("locked/w.safetensors") != std::string::npos);
        fs::permissions(dir.path / "locked", fs::perms::owner_all);
      }
    }
    SUBCASE("a tensor fails half-way through: the old file is untouched") {
      const std::string path = dir / "w.safetensors";
      write_safetensors(path, tensors, {{"version", "old"}});
      const std::string old_bytes = read_bytes(path);
      Arena arena(Device::cpu());
      Tensor stale;
      {
        ArenaScope scope(arena);
        stale = Tensor::zeros({1000}, DType::f32);
      }
      arena.reset();
      const std::string message = error_of([&] {
        write_safetensors(path, {{"w", pattern_tensor(DType::f32, {4})}, {"stale", stale}}, {{"version", "new"}});
      });
      CHECK(message.find(path) != std::string::npos);
      CHECK(message.find("tensor \"stale\"") != std::string::npos);
      CHECK(read_bytes(path) == old_bytes);
    }
    SUBCASE("names repeated, empty or undefined tensors: nothing is written") {
      const std::string path = dir / "bad.safetensors";
      CHECK(error_of([&] { write_safetensors(path, {{"w", tensors[0].second}, {"w", tensors[0].second}}); })
                .find("tensor name \"w\" appears twice") != std::string::npos);
      CHECK(error_of([&] { write_safetensors(path, {{"", tensors[0].second}}); }).find("invalid tensor name") !=
            std::string::npos);
      CHECK(error_of([&] { write_safetensors(path, {{"__metadata__", tensors[0].second}}); })
                .find("invalid tensor name") != std::string::npos);
      CHECK(error_of([&] { write_safetensors(path, {{"u", Tensor()}}); }).find("tensor \"u\" is undefined") !=
            std::string::npos);
      CHECK_FALSE(fs::exists(path));
    }
    CHECK_FALSE(any_temp_file(dir.path));
  }

  TEST_CASE("checkpoint directory: keeps the last K, newest first to resume") {
    ScratchDir dir;
    CheckpointDir ckpt((dir.path / "run").string(), 2);
    std::vector<std::string> saved;
    for (int64_t step : {100, 200, 300, 400, 500}) saved.push_back(ckpt.save(content_for_step(step)));
    CHECK(saved[4] == (dir.path / "run" / "step-00000500.safetensors").string());
    CHECK(ckpt.list() == std::vector<std::string>{saved[3], saved[4]});
    CHECK(ckpt.latest() == saved[4]);
    CHECK(files_in(dir.path / "run") == std::vector<std::string>{"step-00000400.json", "step-00000400.safetensors",
                                                                 "step-00000500.json", "step-00000500.safetensors"});

    const SafetensorsFile f = SafetensorsFile::open(saved[4]);
    CHECK(f.metadata() ==
          std::map<std::string, std::string>{{"format", "rsd-checkpoint-1"}, {"method", "byol"}, {"step", "500"}});
    CHECK(f.names() == std::vector<std::string>{"online.encoder.conv1.weight",
                                                "optimizer.online.encoder.conv1.weight.momentum"});
    const nlohmann::json sidecar = nlohmann::json::parse(read_bytes(checkpoint_sidecar_path(saved[4])));
    CHECK(sidecar["step"] == 500);
    CHECK(sidecar["config"]["lr"] == 0.2);
    CHECK(sidecar["rng"]["seed"].get<uint64_t>() == 18446744073709551615ull);
  }

  TEST_CASE("checkpoint directory: incomplete checkpoints and temporary files are skipped") {
    ScratchDir dir;
    CheckpointDir ckpt(dir.path.string(), 3);
    CHECK_FALSE(ckpt.latest().has_value());
    CHECK(ckpt.list().empty());
    const std::string first = ckpt.save(content_for_step(1));
    const std::string second = ckpt.save(content_for_step(2));
    fs::remove(checkpoint_sidecar_path(second));
    write_bytes(dir / "step-00000003.safetensors.tmp.999999999", "half-written");
    write_bytes(dir / "step-00000003.json.tmp.999999999", "{");
    write_bytes(dir / "step-00000004.json", "{\"step\": 4}");
    write_bytes(dir / "notes.txt", "not a checkpoint");
    CHECK(ckpt.list() == std::vector<std::string>{first});
    CHECK(ckpt.latest() == first);
    CHECK(load_checkpoint(dir.path.string()).path == first);

    // The next save removes the incomplete step 2 (older than the saved step) and the temporary files
    // of the dead process; the orphan sidecar of step 4 (newer) and unrelated files stay.
    const std::string third = ckpt.save(content_for_step(3));
    CHECK(files_in(dir.path) == std::vector<std::string>{"notes.txt", "step-00000001.json", "step-00000001.safetensors",
                                                         "step-00000003.json", "step-00000003.safetensors",
                                                         "step-00000004.json"});
    CHECK(ckpt.latest() == third);
  }

  TEST_CASE("checkpoint directory: the checkpoint just saved is kept even when newer ones exist") {
    ScratchDir dir;
    CheckpointDir ckpt(dir.path.string(), 1);
    ckpt.save(content_for_step(900));
    const std::string resumed = ckpt.save(content_for_step(500));
    CHECK(ckpt.list() == std::vector<std::string>{resumed});
  }

  TEST_CASE("load_checkpoint: a directory, a file, and every inconsistency named") {
    ScratchDir dir;
    CheckpointDir ckpt(dir.path.string(), 5);
    const std::string older = ckpt.save(content_for_step(10));
    const std::string newer = ckpt.save(content_for_step(20));

    const LoadedCheckpoint from_dir = load_checkpoint(dir.path.string());
    CHECK(from_dir.path == newer);
    CHECK(from_dir.step == 20);
    CHECK(nlohmann::json::parse(from_dir.sidecar_json)["config"]["lr"] == 0.2);
    CHECK(same_bytes(from_dir.file.read("online.encoder.conv1.weight"), pattern_tensor(DType::f32, {4, 3, 3, 2})));
    CHECK(from_dir.file.read("optimizer.online.encoder.conv1.weight.momentum").to_host_doubles()[0] == 20.0);

    const LoadedCheckpoint from_file = load_checkpoint(older);
    CHECK(from_file.step == 10);
    CHECK(from_file.path == older);

    SUBCASE("a flipped bit in a tensor's bytes fails its checksum, naming the tensor") {
      const uint64_t size = fs::file_size(newer);
      std::fstream f(newer, std::ios::in | std::ios::out | std::ios::binary);
      f.seekg(static_cast<std::streamoff>(size - 1));
      char c = 0;
      f.read(&c, 1);
      c = static_cast<char>(c ^ 0x10);
      f.seekp(static_cast<std::streamoff>(size - 1));
      f.write(&c, 1);
      f.close();
      const std::string message = error_of([&] { load_checkpoint(newer); });
      CHECK(message.find(newer) != std::string::npos);
      CHECK(message.find("does not match the CRC32C its sidecar recorded") != std::string::npos);
      // A sidecar written before checksums existed: nothing to verify, the file opens.
      nlohmann::json old_sidecar = nlohmann::json::parse(read_bytes(checkpoint_sidecar_path(newer)));
      old_sidecar.erase("tensor_crc32c");
      write_bytes(checkpoint_sidecar_path(newer), old_sidecar.dump());
      CHECK(load_checkpoint(newer).step == 20);
    }
    SUBCASE("the sidecar's step differs from the metadata") {
      write_bytes(checkpoint_sidecar_path(newer), "{\"step\": 21}");
      const std::string message = error_of([&] { load_checkpoint(newer); });
      CHECK(message.find(newer) != std::string::npos);
      CHECK(message.find("step 20 in its metadata, but 21 in its sidecar") != std::string::npos);
    }
    SUBCASE("the file name's step differs from the metadata") {
      const std::string renamed = dir / "step-00000030.safetensors";
      fs::copy_file(newer, renamed);
      fs::copy_file(checkpoint_sidecar_path(newer), checkpoint_sidecar_path(renamed));
      // Now the newest in the directory: loading the directory finds it too.
      for (const std::string& path : {renamed, dir.path.string()}) {
        const std::string message = error_of([&] { load_checkpoint(path); });
        CHECK(message.find("step 20 in its metadata, but its name says 30") != std::string::npos);
      }
    }
    SUBCASE("a sidecar without a step, or not JSON") {
      write_bytes(checkpoint_sidecar_path(newer), "{\"config\": {}}");
      CHECK(error_of([&] { load_checkpoint(newer); }).find("no \"step\" field") != std::string::npos);
      write_bytes(checkpoint_sidecar_path(newer), "{\"step\": ");
      CHECK(error_of([&] { load_checkpoint(newer); }).find("not valid JSON") != std::string::npos);
    }
    SUBCASE("weights without a step in their metadata") {
      const std::string plain = dir / "plain.safetensors";
      write_safetensors(plain, {{"w", pattern_tensor(DType::f32, {2})}});
      write_bytes(checkpoint_sidecar_path(plain), "{\"step\": 0}");
      CHECK(error_of([&] { load_checkpoint(plain); }).find("has no \"step\"") != std::string::npos);
    }
    SUBCASE("a missing sidecar, a missing file, an empty directory") {
      fs::remove(checkpoint_sidecar_path(newer));
      const std::string message = error_of([&] { load_checkpoint(newer); });
      CHECK(message.find("step-00000020.json is missing") != std::string::npos);
      CHECK(load_checkpoint(dir.path.string()).step == 10);
      CHECK(error_of([&] { load_checkpoint(dir / "step-00000099.safetensors"); }).find("no such file") !=
            std::string::npos);
      fs::create_directories(dir.path / "empty");
      CHECK(error_of([&] { load_checkpoint(dir / "empty"); }).find("no checkpoint in this directory") !=
            std::string::npos);
    }
  }

  TEST_CASE("checkpoint directory: bad arguments") {
    ScratchDir dir;
    CHECK(error_of([&] { CheckpointDir(dir.path.string(), 0); }).find("keep_last is 0") != std::string::npos);
    CheckpointDir ckpt(dir.path.string(), 2);
    CheckpointContent c = content_for_step(5);
    c.sidecar_json = "{\"step\": 6}";
    CHECK(error_of([&] { ckpt.save(c); }).find("the sidecar JSON says \"step\": 6") != std::string::npos);
    c.sidecar_json = "[1]";
    CHECK(error_of([&] { ckpt.save(c); }).find("not an object") != std::string::npos);
    c = content_for_step(5);
    c.metadata["step"] = "4";
    CHECK(error_of([&] { ckpt.save(c); }).find("the metadata says \"step\": \"4\"") != std::string::npos);
    c = content_for_step(5);
    c.metadata["format"] = "other";
    CHECK(error_of([&] { ckpt.save(c); }).find("\"format\": \"other\"") != std::string::npos);
    c = content_for_step(-1);
    CHECK(error_of([&] { ckpt.save(c); }).find("negative") != std::string::npos);
    c = content_for_step(5);
    c.sidecar_json.clear();
    const std::string path = ckpt.save(c);
    // "step" first; then the checksum of each tensor, which load_checkpoint verifies.
    const std::string text = read_bytes(checkpoint_sidecar_path(path));
    CHECK(text.rfind("{\n  \"step\": 5,\n  \"tensor_crc32c\": {", 0) == 0);
    write_bytes(dir / "file", "x");
    CHECK(error_of([&] { CheckpointDir(dir / "file", 2); }).find("checkpoint directory " + (dir / "file")) !=
          std::string::npos);
  }
}
