#include "engine/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "engine/error.h"

namespace rsd {

void write_file_atomically(const std::string& path, const std::string& content) {
  const std::string tmp = str_cat(path, ".tmp.", getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  RSD_CHECK(f != nullptr, "cannot write ", path, ": ", std::strerror(errno));
  const bool written = std::fwrite(content.data(), 1, content.size(), f) == content.size();
  const bool flushed = std::fflush(f) == 0 && fsync(fileno(f)) == 0;
  const int saved_errno = errno;
  std::fclose(f);
  if (!written || !flushed) {
    std::remove(tmp.c_str());
    fail("cannot write ", path, ": ", std::strerror(saved_errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    std::remove(tmp.c_str());
    fail("cannot move ", tmp, " to ", path, ": ", std::strerror(e));
  }
}

}  // namespace rsd
