// Paths for tests: the shipped real samples and self-removing temporary folders. No GDAL needed.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <system_error>

namespace rsd::test {

namespace fs = std::filesystem;

// The samples are GeoTIFFs: cases that read them are skipped (doctest::skip(kNoGdal)) in a build
// without GDAL.
constexpr bool kNoGdal = !RSD_HAVE_GDAL;

// A fresh folder under the system temp directory, removed with everything in it.
class TempDir {
 public:
  explicit TempDir(const std::string& name = "rsd_test") {
    std::random_device rd;
    path_ = fs::temp_directory_path() / (name + "_" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& rel) const { return path_ / rel; }

 private:
  fs::path path_;
};

// The shipped real samples: $RSD_SAMPLES_DIR, else data/samples beside this source tree.
inline fs::path samples_dir() {
  if (const char* env = std::getenv("RSD_SAMPLES_DIR")) return env;
  return fs::path(__FILE__).parent_path().parent_path().parent_path() / "data" / "samples";  // tests/support/../..
}

}  // namespace rsd::test
