// Convolution weights between rsd's layout and torchvision's: rsd keeps (K, R, S, C) (cuDNN's NHWC
// filter layout), torchvision (K, C, R, S). Used where weights cross that boundary: exported
// encoders, --init from torchvision files, encoders loaded back from an export.
#pragma once
#include "engine/tensor.h"

namespace rsd::models {

// w: (K, R, S, C) -> (K, C, R, S), float32 on the CPU.
Tensor conv_weight_to_torchvision(const Tensor& w);

// w: (K, C, R, S) -> (K, R, S, C), float32 on the CPU.
Tensor conv_weight_from_torchvision(const Tensor& w);

}  // namespace rsd::models
