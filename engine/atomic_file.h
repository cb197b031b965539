// Writing files so that nothing is ever half-written: the content goes to "<path>.tmp.<pid>" and is
// renamed over <path> only once complete and flushed. A crash leaves the old file (or none).
#pragma once
#include <string>

namespace rsd {

void write_file_atomically(const std::string& path, const std::string& content);

}  // namespace rsd
