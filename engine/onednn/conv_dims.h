// A convolution's shapes as oneDNN takes them, and when it may use Winograd; shared by the training
// kernels (conv2d.cpp) and the inference kernel (conv2d_inference.cpp).
#pragma once
#include <oneapi/dnnl/dnnl.hpp>

#include <string>

#include "engine/tensor.h"

namespace rsd::onednn {

// The dims oneDNN takes (logical NCHW / OIHW order; the tags say the layout in memory).
struct ConvDims {
  dnnl::memory::dims x, w, y, strides, pad_l, pad_r;
  std::string key;  // the shapes, stride and padding: a primitive cache key
};

// x (N, H, W, C), w (K, R, S, C) in rsd's shapes.
ConvDims conv_dims(const Shape& xs, const Shape& ws, int stride, int padding);

// Whether oneDNN's Winograd convolution may run: not with RSD_WINOGRAD=0 in the environment.
bool winograd_allowed();
// A 3x3 stride-1 convolution of at least 16 channels in and out: where Winograd beats the direct
// algorithm (narrower ones, such as a stem over a few bands, run slower in it).
bool winograd_shape(const ConvDims& d);

}  // namespace rsd::onednn
