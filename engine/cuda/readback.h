// CUDA side of engine/scalar_readback.h: an asynchronous device-to-host copy on the compute stream
// and an event to wait on.
#pragma once
#include <cstddef>

#include "engine/tensor.h"

namespace rsd::cuda {

// cudaEvent_t behind a void*, so the engine header needs no CUDA include.
void* create_event(int device);
void destroy_event(void* event) noexcept;
// src's bytes to dst (page-locked host memory), queued on src's device's compute stream.
void copy_to_host_async(const Tensor& src, void* dst);
// Records `event` on `device`'s compute stream, after what is queued there.
void record_event(void* event, int device);
void wait_event(void* event);
// True when `event` has completed (cudaEventQuery; never blocks).
bool event_done(void* event);

}  // namespace rsd::cuda
