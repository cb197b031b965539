#include "engine/cuda/pinned.h"

#include <cstdio>

#include "engine/cuda/check.h"
#include "engine/cuda/context.h"

namespace rsd::cuda {

void* allocate_pinned(size_t bytes) {
  RSD_CHECK(device_count() > 0, "page-locked host buffer of ", bytes, " bytes: ", unavailable_reason());
  void* p = nullptr;
  RSD_CUDA_CHECK(cudaHostAlloc(&p, bytes, cudaHostAllocPortable), "page-locked host buffer of ", bytes, " bytes");
  return p;
}

void free_pinned(void* p) noexcept {
  warn_on_release_error(cudaFreeHost(p), "cudaFreeHost");
}

}  // namespace rsd::cuda
