// The checks of a command's outputs before it computes (engine/output_preflight.h), as the
// downstream commands meet them: folders under a regular file, the input itself under any name,
// writing inside a dataset folder, too little space; nothing is created by a check.
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/output_preflight.h"
#include "tests/support/embed_test_util.h"
#include "tests/support/test_paths.h"

using namespace rsd;
using test::error_of;
using test::TempDir;
namespace fs = std::filesystem;

TEST_SUITE("downstream") {
  TEST_CASE("output checks: folders under a regular file, the input itself under any name, inside a dataset, too "
            "little space; nothing is created") {
    TempDir dir;
    const fs::path file = dir.path() / "file.txt";
    std::ofstream(file) << "a regular file";
    const std::string under =
        error_of([&] { check_output_dir((file / "sub").string(), "the output", {"a.npy"}, 0, {}); });
    CHECK(under.find(file.string()) != std::string::npos);
    CHECK(under.find("regular file") != std::string::npos);
    CHECK(error_of([&] {
            check_output_file((file / "sub" / "x.tif").string(), "the output", 0, {});
          }).find("regular file") != std::string::npos);
    CHECK(error_of([&] { check_output_dir(file.string(), "the output", {}, 0, {}); }).find("not a folder") !=
          std::string::npos);

    // The input under another spelling, a symlink, a hard link.
    const fs::path in = dir.path() / "in.tif";
    std::ofstream(in) << "imagery";
    fs::create_directories(dir.path() / "sub");
    fs::create_symlink(in, dir.path() / "link.tif");
    fs::create_hard_link(in, dir.path() / "hard.tif");
    const std::vector<ProtectedInput> raster = {{in.string(), "the input raster", false}};
    for (const fs::path& p : {in, dir.path() / "." / "in.tif", dir.path() / "sub" / ".." / "in.tif",
                              dir.path() / "link.tif", dir.path() / "hard.tif"}) {
      CAPTURE(p);
      const std::string e = error_of([&] { check_output_file(p.string(), "the output", 0, raster); });
      CHECK(e.find("overwrite") != std::string::npos);
      CHECK(e.find(in.string()) != std::string::npos);
    }
    CHECK(error_of([&] { check_output_file((dir.path() / "out.tif").string(), "the output", 0, raster); }).empty());
    // A folder's files against the input.
    CHECK(error_of([&] {
            check_output_dir(dir.path().string(), "the output", {"in.tif"}, 0, raster);
          }).find("overwrite") != std::string::npos);

    // Inside a dataset folder, also through a symlinked folder; beside it is fine.
    fs::create_directories(dir.path() / "ds" / "train");
    fs::create_directory_symlink(dir.path() / "ds", dir.path() / "alias");
    const std::vector<ProtectedInput> ds = {{(dir.path() / "ds").string(), "the dataset folder", true}};
    for (const fs::path& p : {dir.path() / "ds", dir.path() / "ds" / "emb", dir.path() / "ds" / "train" / "new" / "x",
                              dir.path() / "alias" / "emb"}) {
      CAPTURE(p);
      CHECK(error_of([&] { check_output_dir(p.string(), "the output", {}, 0, ds); }).find("the dataset folder") !=
            std::string::npos);
    }
    CHECK(error_of([&] { check_output_dir((dir.path() / "dsx").string(), "the output", {}, 0, ds); }).empty());
    CHECK(error_of([&] { check_output_dir((dir.path() / "a" / "b").string(), "the output", {}, 0, ds); }).empty());

    // Too little space: the need, the free space, the note.
    const std::string full = error_of(
        [&] { check_output_file((dir.path() / "big.tif").string(), "the output", uint64_t{1} << 60, {}, "a lot"); });
    CHECK(full.find("needs about 1024.0 PiB (a lot)") != std::string::npos);
    CHECK(full.find("free") != std::string::npos);
    CHECK(!fs::exists(dir.path() / "a"));
    CHECK(!fs::exists(dir.path() / "big.tif"));
    CHECK(byte_size_text(512) == "512 bytes");
    CHECK(byte_size_text(1536) == "1.5 KiB");
    CHECK(byte_size_text(uint64_t{3} << 30) == "3.0 GiB");
  }
}
