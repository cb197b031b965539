// The device's persistent cuDNN workspace (engine/cuda/conv2d.cpp), for the memory report.
#pragma once
#include <cstddef>

namespace rsd::cuda {

// Bytes the workspace of cuda:`device` holds now (0 before the first convolution).
size_t cudnn_workspace_bytes(int device);

}  // namespace rsd::cuda
