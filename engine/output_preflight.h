// Checks of a command's outputs before it computes anything: a run that takes minutes (a model
// load, embedding a scene, a probe) must not end in an error it could have given at once.
//
// Each check throws an rsd::Error naming what the output is, its path, the problem and what to do:
//   - the path is empty, or an output file is an existing folder (or an output folder a file);
//   - its folder cannot be made: an ancestor is a regular file ("--out x.txt/sub");
//   - its folder (or, when absent, the nearest existing ancestor, where it would be made) cannot
//     be written: a read-only file system, no permission, /proc; tested by creating and removing
//     a probe file there, which is what counts for root too;
//   - it would overwrite one of the command's inputs (the same file under any spelling, through a
//     symlink or a hard link: compared by device and inode), or write inside an input folder (a
//     dataset folder, which a layout detector scans: new files there change the dataset);
//   - its file system has less free space (for an unprivileged writer) than `estimated_bytes`.
// Nothing is created or changed by a check (the probe file is removed at once).
//
// The downstream commands (embed, embed --dense, export-weights, eval) call these before loading
// the model (paths and inputs) and again with their size estimate once the model is known.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rsd {

// An input the outputs must leave alone: a file is never overwritten; a folder (`tree`) is never
// written into, at any depth.
struct ProtectedInput {
  std::string path;
  std::string what;   // "the input raster", "the dataset folder", ...
  bool tree = false;  // a folder whose contents must not change
};

// `path` will be written as one file (atomically: a temporary beside it, renamed over it).
// estimated_bytes: what the file (and its temporary) needs on disk; 0 skips the space check.
// `size_note` says how the estimate was made ("512 x 512 px x 64 float32 bands + overviews").
void check_output_file(const std::string& path, const std::string& what, uint64_t estimated_bytes,
                       const std::vector<ProtectedInput>& inputs, const std::string& size_note = "");

// `dir` will be made if absent, and `files` (names) written in it.
void check_output_dir(const std::string& dir, const std::string& what, const std::vector<std::string>& files,
                      uint64_t estimated_bytes, const std::vector<ProtectedInput>& inputs,
                      const std::string& size_note = "");

// Only the space check: the file system that holds (or would hold) `path` has at least
// `estimated_bytes` free for an unprivileged writer.
void check_output_space(const std::string& path, const std::string& what, uint64_t estimated_bytes,
                      const std::string& size_note = "");

// Bytes free for an unprivileged writer on the file system of `path` (its nearest existing ancestor).
uint64_t free_bytes_at(const std::string& path);

// `path` (which need not exist) is the existing folder `folder` or lies below it, symlinks of the
// existing parts resolved.
bool path_is_within(const std::string& path, const std::string& folder);

// "1.5 MiB", "812 bytes": sizes in messages.
std::string byte_size_text(uint64_t bytes);

}  // namespace rsd
