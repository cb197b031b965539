#include "engine/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "engine/error.h"

namespace rsd {

AtomicFileWriter::AtomicFileWriter(std::string path)
    : path_(std::move(path)), temp_path_(str_cat(path_, ".tmp.", getpid())) {
  fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  RSD_CHECK(fd_ >= 0, "cannot write ", path_, ": cannot create ", temp_path_, ": ", std::strerror(errno));
}

AtomicFileWriter::~AtomicFileWriter() { abandon(); }

void AtomicFileWriter::abandon() noexcept {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
  ::unlink(temp_path_.c_str());
}

void AtomicFileWriter::write(const void* data, size_t bytes) {
  RSD_CHECK(fd_ >= 0, "cannot write ", path_, ": the file was already committed");
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::write(fd_, p, bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int e = n < 0 ? errno : EIO;
      abandon();
      fail("cannot write ", path_, " (after ", bytes_written_, " bytes): ", std::strerror(e));
    }
    p += n;
    bytes -= static_cast<size_t>(n);
    bytes_written_ += static_cast<uint64_t>(n);
  }
}

void AtomicFileWriter::commit() {
  RSD_CHECK(fd_ >= 0, "cannot write ", path_, ": the file was already committed");
  if (::fsync(fd_) != 0) {
    const int e = errno;
    abandon();
    fail("cannot write ", path_, ": fsync failed: ", std::strerror(e));
  }
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    const int e = errno;
    ::unlink(temp_path_.c_str());
    fail("cannot write ", path_, ": close failed: ", std::strerror(e));
  }
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    const int e = errno;
    ::unlink(temp_path_.c_str());
    fail("cannot move ", temp_path_, " to ", path_, ": ", std::strerror(e));
  }
  sync_parent_directory(path_);
}

void write_file_atomically(const std::string& path, const std::string& content) {
  AtomicFileWriter writer(path);
  writer.write(content);
  writer.commit();
}

void sync_parent_directory(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  RSD_CHECK(fd >= 0, "cannot open directory ", dir, " to sync ", path, ": ", std::strerror(errno));
  const bool synced = ::fsync(fd) == 0 || errno == EINVAL;
  const int e = errno;
  ::close(fd);
  RSD_CHECK(synced, "cannot sync directory ", dir, " after writing ", path, ": ", std::strerror(e));
}

}  // namespace rsd
