#include "engine/output_preflight.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "engine/error.h"

namespace rsd {

namespace fs = std::filesystem;

namespace {

bool path_exists(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec) && !ec;
}

bool is_folder(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec) && !ec;
}

fs::path absolute_path(const fs::path& p) {
  std::error_code ec;
  fs::path a = fs::absolute(p, ec);
  return ec ? p : a.lexically_normal();
}

// p itself when it exists, else its nearest existing ancestor ("/" at worst). A path under a
// regular file ("x.txt/sub") does not exist (ENOTDIR), so this returns the file.
fs::path existing_ancestor(const fs::path& p) {
  fs::path cur = absolute_path(p);
  while (!path_exists(cur) && cur.has_relative_path()) cur = cur.parent_path();
  return cur;
}

std::string kind_of(const fs::path& p) {
  std::error_code ec;
  switch (fs::status(p, ec).type()) {
    case fs::file_type::regular: return "regular file";
    case fs::file_type::directory: return "folder";
    case fs::file_type::character:
    case fs::file_type::block: return "device";
    case fs::file_type::fifo: return "pipe";
    case fs::file_type::socket: return "socket";
    default: return "special file";
  }
}

// The same file: device and inode (any spelling, a symlink, a hard link).
bool same_file(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  if (!path_exists(a) || !path_exists(b)) return false;
  const bool same = fs::equivalent(a, b, ec);
  return same && !ec;
}

// p (which may not exist yet) is `folder` or lies below it, symlinks of the existing part resolved.
bool inside(const fs::path& p, const fs::path& folder) {
  std::error_code ec;
  if (!is_folder(folder)) return false;
  const fs::path f = fs::canonical(folder, ec);
  if (ec) return false;
  const fs::path q = fs::weakly_canonical(absolute_path(p), ec);
  if (ec) return false;
  auto qi = q.begin();
  for (auto fi = f.begin(); fi != f.end(); ++fi, ++qi) {
    if (fi->empty()) continue;  // a trailing separator
    if (qi == q.end() || *qi != *fi) return false;
  }
  return true;
}

// `dir` (where the output goes) can be made and written: its nearest existing ancestor is a folder
// in which a file can be created.
void check_folder_writable(const fs::path& dir, const std::string& what, const std::string& path) {
  const fs::path anc = existing_ancestor(dir);
  const bool made_later = anc != absolute_path(dir);
  if (!is_folder(anc))
    fail(what, " ", path, ": cannot ", made_later ? "make its folder" : "write there", ": ", anc.string(), " is a ",
         kind_of(anc), ", not a folder; give an --out whose folders are folders");
  const fs::path probe = anc / str_cat(".rsd-write-check.", ::getpid());
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int err = errno;
    if (err != EEXIST)
      fail(what, " ", path, ": cannot write in ", anc.string(),
           made_later ? str_cat(" (where its folder ", absolute_path(dir).string(), " would be made)") : std::string(), ": ",
           err == EROFS ? std::string("a read-only file system")
                        : str_cat("creating a file there fails (", std::strerror(err), ")"),
           "; write somewhere else (--out)");
    return;  // a leftover probe of this pid: the folder takes files
  }
  ::close(fd);
  ::unlink(probe.c_str());
}

void check_inputs(const fs::path& out, bool out_is_folder, const std::string& what, const std::string& shown,
                  const std::vector<ProtectedInput>& inputs) {
  for (const ProtectedInput& in : inputs) {
    if (in.path.empty()) continue;
    if (in.tree) {
      if (inside(out, in.path))
        fail(what, " ", shown, out_is_folder && same_file(out, in.path) ? " is " : " is inside ", in.what, " ",
             in.path, ": writing there would add files to the input (a dataset's folder is scanned for its files); "
             "choose an --out outside it");
    } else if (same_file(out, in.path)) {
      fail(what, " ", shown, " is ", in.what, " ", in.path,
           " (the same file): writing it would overwrite the input; choose another output path");
    }
  }
}

}  // namespace

std::string byte_size_text(uint64_t bytes) {
  if (bytes < 1024) return str_cat(bytes, " bytes");
  const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes) / 1024.0;
  int u = 0;
  while (v >= 1024.0 && u < 4) v /= 1024.0, ++u;
  char text[64];
  std::snprintf(text, sizeof text, "%.1f %s", v, units[u]);
  return text;
}

uint64_t free_bytes_at(const std::string& path) {
  std::error_code ec;
  const fs::space_info s = fs::space(existing_ancestor(path), ec);
  return ec ? UINT64_MAX : static_cast<uint64_t>(s.available);
}

void check_output_space(const std::string& path, const std::string& what, uint64_t estimated_bytes,
                      const std::string& size_note) {
  if (estimated_bytes == 0) return;
  const uint64_t free = free_bytes_at(path);
  if (free >= estimated_bytes) return;
  fail(what, " ", path, ": needs about ", byte_size_text(estimated_bytes),
       size_note.empty() ? std::string() : str_cat(" (", size_note, ")"), " but the file system holding ",
       existing_ancestor(path).string(), " has ", byte_size_text(free), " free; free some space or write elsewhere");
}

void check_output_file(const std::string& path, const std::string& what, uint64_t estimated_bytes,
                       const std::vector<ProtectedInput>& inputs, const std::string& size_note) {
  RSD_CHECK(!path.empty(), what, ": no output path given");
  const fs::path p(path);
  RSD_CHECK(!is_folder(p), what, " ", path, " is a folder; give the path of a file to write");
  RSD_CHECK(!path_exists(p) || fs::is_regular_file(p), what, " ", path, " is a ", kind_of(p),
            "; give the path of a regular file to write");
  check_folder_writable(absolute_path(p).parent_path(), what, path);
  check_inputs(p, false, what, path, inputs);
  check_output_space(path, what, estimated_bytes, size_note);
}

void check_output_dir(const std::string& dir, const std::string& what, const std::vector<std::string>& files,
                      uint64_t estimated_bytes, const std::vector<ProtectedInput>& inputs,
                      const std::string& size_note) {
  RSD_CHECK(!dir.empty(), what, ": no output folder given");
  const fs::path d(dir);
  RSD_CHECK(!path_exists(d) || is_folder(d), what, " ", dir, " is a ", kind_of(d),
            ", not a folder; give a folder to write in (it is made if absent)");
  check_folder_writable(d, what, dir);
  std::vector<ProtectedInput> trees, files_only;
  for (const ProtectedInput& in : inputs) (in.tree ? trees : files_only).push_back(in);
  check_inputs(d, true, what, dir, trees);
  for (const std::string& name : files) {
    const fs::path f = d / name;
    RSD_CHECK(!is_folder(f), what, ": ", f.string(), " is a folder, where the file ", name,
              " would be written; remove it or choose another --out");
    check_inputs(f, false, what, f.string(), files_only);
  }
  check_output_space(dir, what, estimated_bytes, size_note);
}

bool path_is_within(const std::string& path, const std::string& folder) { return inside(path, folder); }

}  // namespace rsd
