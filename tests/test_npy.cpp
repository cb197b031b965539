// write_npy / read_npy: round trips of every supported dtype and of odd shapes, the exact bytes of
// the header, and malformed files (each error names the file and the problem). NumPy's own view of
// these files is checked in test_models.cpp (it needs the Python client).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "engine/npy.h"
#include "tests/support/harness.h"
#include "tests/support/shard_test_util.h"

using namespace rsd;
using rsd::test::error_of;
namespace fs = std::filesystem;

namespace {

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}


// A version 1.0 file with the given header dict (padded to 64 bytes) and data bytes.
std::string npy_file(std::string dict, const std::string& data) {
  while ((10 + dict.size() + 1) % 64 != 0) dict += ' ';
  dict += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(dict.size() & 0xFF);
  out += static_cast<char>(dict.size() >> 8);
  return out + dict + data;
}

}  // namespace

TEST_SUITE("models") {
  TEST_CASE("npy round trip of f32, f64, f16, i32 and u8, odd shapes included") {
    test::ScratchDir dir;
    const std::vector<Tensor> tensors{
        test::random_tensor({2, 3, 5}, DType::f32, Device::cpu(), 1, -1e6, 1e6),
        test::random_tensor({7}, DType::f64, Device::cpu(), 2),
        test::random_tensor({1, 1, 3, 1}, DType::f16, Device::cpu(), 3, -60000.0, 60000.0),
        Tensor::from_ints({-5, 0, 2147483647, -2147483647 - 1}, {2, 2}),
        Tensor::from_vector({0, 9, 200, 255, 1, 2}, {3, 2}, DType::u8),
        Tensor::from_vector({3.25}, {}, DType::f64),
        Tensor::zeros({4, 0}, DType::i32),
    };
    for (size_t i = 0; i < tensors.size(); ++i) {
      const Tensor& t = tensors[i];
      CAPTURE(t.describe());
      const std::string path = (dir.path / ("t" + std::to_string(i) + ".npy")).string();
      write_npy(path, t);
      const std::string bytes = read_bytes(path);
      CHECK(bytes.compare(0, 8, std::string("\x93NUMPY\x01\x00", 8)) == 0);
      CHECK((bytes.size() - t.nbytes()) % 64 == 0);  // the data starts 64-byte aligned
      const Tensor back = read_npy(path);
      CHECK(back.dtype() == t.dtype());
      CHECK(back.shape() == t.shape());
      CHECK(back.device().is_cpu());
      CHECK(back.to_host_doubles() == t.to_host_doubles());
      CHECK_FALSE(fs::exists(path + ".tmp." + std::to_string(::getpid())));
    }
  }

  TEST_CASE("the npy header is NumPy's format 1.0 dict") {
    test::ScratchDir dir;
    const fs::path path = dir.path / "h.npy";
    write_npy(path.string(), Tensor::zeros({2, 3}, DType::f32));
    const std::string bytes = read_bytes(path);
    const size_t header_size =
        static_cast<size_t>(static_cast<unsigned char>(bytes[8])) | static_cast<size_t>(static_cast<unsigned char>(bytes[9])) << 8;
    const std::string header = bytes.substr(10, header_size);
    CHECK(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 0) == 0);
    CHECK(header.back() == '\n');
    write_npy(path.string(), Tensor::zeros({5}, DType::u8));
    CHECK(read_bytes(path).find("'descr': '|u1', 'fortran_order': False, 'shape': (5,), }") != std::string::npos);
  }

  TEST_CASE("read_npy accepts NumPy-style variations of the header") {
    test::ScratchDir dir;
    const fs::path path = dir.path / "v.npy";
    std::string data(8, '\0');
    data[0] = 1;  // little-endian i32 1, then 0
    write_bytes(path, npy_file("{\"shape\": (2,), \"fortran_order\": False, \"descr\": \"<i4\"}", data));
    const Tensor t = read_npy(path.string());
    CHECK(t.shape() == Shape{2});
    CHECK(t.to_host_doubles() == std::vector<double>{1.0, 0.0});
  }

  TEST_CASE("malformed npy files are errors naming the file and the problem") {
    test::ScratchDir dir;
    const fs::path good = dir.path / "good.npy";
    write_npy(good.string(), test::random_tensor({4, 4}, DType::f32, Device::cpu(), 5));
    const std::string bytes = read_bytes(good);
    auto error_reading = [&](const std::string& name, const std::string& content) {
      const std::string path = (dir.path / name).string();
      write_bytes(path, content);
      const std::string e = error_of([&] { read_npy(path); });
      CHECK_MESSAGE(e.find(path) != std::string::npos, e);
      return e;
    };
    CHECK(error_reading("truncated.npy", bytes.substr(0, bytes.size() - 3)).find("truncated data") != std::string::npos);
    CHECK(error_reading("trailing.npy", bytes + "xy").find("2 bytes after the data") != std::string::npos);
    CHECK(error_reading("short_header.npy", bytes.substr(0, 40)).find("truncated in the header") != std::string::npos);
    CHECK(error_reading("tiny.npy", bytes.substr(0, 4)).find("not a .npy file") != std::string::npos);
    std::string bad_magic = bytes;
    bad_magic[1] = 'X';
    CHECK(error_reading("magic.npy", bad_magic).find("not a .npy file") != std::string::npos);
    std::string bad_version = bytes;
    bad_version[6] = 9;
    CHECK(error_reading("version.npy", bad_version).find("unsupported .npy version 9.0") != std::string::npos);
    const std::string data(16, '\0');
    CHECK(error_reading("fortran.npy", npy_file("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", data))
              .find("Fortran-ordered") != std::string::npos);
    CHECK(error_reading("complex.npy", npy_file("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", data))
              .find("unsupported dtype '<c8'") != std::string::npos);
    CHECK(error_reading("big.npy", npy_file("{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", data))
              .find("big-endian") != std::string::npos);
    CHECK(error_reading("nokey.npy", npy_file("{'descr': '<f4', 'shape': (4,), }", data))
              .find("'fortran_order' is missing") != std::string::npos);
    CHECK(error_reading("extra.npy", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'x': 1}", data))
              .find("unexpected key 'x'") != std::string::npos);
    CHECK(error_reading("negative.npy", npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }", data))
              .find("non-negative integer") != std::string::npos);
    CHECK(error_reading("garbage.npy", npy_file("not a dict", data)).find("bad header dict") != std::string::npos);
    const std::string missing = (dir.path / "missing.npy").string();
    CHECK(error_of([&] { read_npy(missing); }).find("cannot open " + missing) != std::string::npos);
  }

  TEST_CASE("write_npy refuses bf16 and undefined tensors, naming the file") {
    test::ScratchDir dir;
    const std::string path = (dir.path / "bf16.npy").string();
    const std::string e = error_of([&] { write_npy(path, Tensor::zeros({2}, DType::bf16)); });
    CHECK(e.find(path) != std::string::npos);
    CHECK(e.find("bf16") != std::string::npos);
    CHECK_FALSE(fs::exists(path));
    CHECK(error_of([&] { write_npy(path, Tensor()); }).find("undefined") != std::string::npos);
    const std::string unwritable = (dir.path / "no_such_dir" / "x.npy").string();
    CHECK(error_of([&] { write_npy(unwritable, Tensor::zeros({2}, DType::f32)); }).find(unwritable) != std::string::npos);
  }
}
