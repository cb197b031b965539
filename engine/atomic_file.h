// Writing files so that nothing is ever half-written: the content goes to "<path>.tmp.<pid>", is
// flushed to the disk (fsync), renamed over <path>, and the directory entry is synced too. A
// crash or an error leaves the old file (or none), never a partial one.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rsd {

// Streams a file in chunks to its temporary name; commit() makes it visible under its final name.
// Destroyed without commit() (an error on the way), it removes the temporary file.
class AtomicFileWriter {
 public:
  // Creates (or truncates) "<path>.tmp.<pid>"; throws rsd::Error naming `path` on failure.
  explicit AtomicFileWriter(std::string path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, size_t bytes);
  void write(std::string_view text) { write(text.data(), text.size()); }
  // fsync, close, rename over path(), fsync of the directory. The writer is finished afterwards.
  void commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }
  uint64_t bytes_written() const { return bytes_written_; }

 private:
  void abandon() noexcept;  // closes and removes the temporary file

  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  uint64_t bytes_written_ = 0;
};

void write_file_atomically(const std::string& path, const std::string& content);

// fsync of the directory holding `path`, so that a rename or removal in it survives a crash.
// File systems that cannot sync directories (EINVAL) are accepted silently.
void sync_parent_directory(const std::string& path);

}  // namespace rsd
