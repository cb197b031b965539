// A whole file mapped read-only into memory (POSIX mmap). The file stays open for the mapping's
// lifetime; pages are read on first touch, so opening a large shard costs nothing up front.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace rsd::data {

class MappedFile {
 public:
  // Throws rsd::Error naming the file when it cannot be opened or mapped.
  explicit MappedFile(std::string path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;

  const uint8_t* data() const { return data_; }  // nullptr for an empty file
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Hints that [offset, offset + length) will be read soon (madvise WILLNEED); a no-op on error.
  void prefetch(size_t offset, size_t length) const;

 private:
  void release() noexcept;

  std::string path_;
  int fd_ = -1;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace rsd::data
