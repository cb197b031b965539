// CUDA side of engine/pinned.h: page-locked host memory, usable by every device (portable).
#pragma once
#include <cstddef>

namespace rsd::cuda {

void* allocate_pinned(size_t bytes);
// Frees memory from allocate_pinned; reports a failure on stderr instead of throwing (it runs in
// destructors).
void free_pinned(void* p) noexcept;

}  // namespace rsd::cuda
